"""The `greenlight` command. Its commands and flags are a stable contract for operators' scripts."""

from __future__ import annotations

import logging
import sys
import threading
import time
from datetime import date
from pathlib import Path

import click

from app import runtime
from app.models import Role


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def main(verbose: bool) -> None:
    """Greenlight: nothing is rendered until it is greenlit."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- db ---------------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Schema migrations (Alembic): the only way the schema is made."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    from app.migrate import upgrade
    upgrade(_rt().config.database_url, revision)
    click.echo(f"database at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from app.migrate import drift
    diffs = drift(_rt().config.database_url)
    if diffs:
        click.echo("models and migrations differ:\n" + "\n".join(map(str, diffs)), err=True)
        sys.exit(1)
    click.echo("models match migrations")


# -- users ----------------------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]),
              default="creator", show_default=True)
@click.option("--password", required=True)
@click.option("--birthdate", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--handle", default=None)
def user_create(email: str, role: str, password: str, birthdate, handle: str | None) -> None:
    from app import accounts
    from app.errors import GreenlightError

    bd: date | None = birthdate.date() if birthdate else None
    try:
        with _rt().db.transaction() as s:
            u = accounts.create_user(s, email, password, role=Role(role), birthdate=bd, handle=handle)
            click.echo(f"created {u.email} (@{u.handle}, {u.role}) id={u.id}")
    except GreenlightError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@main.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def token(email: str, name: str) -> None:
    """Print a new API token for EMAIL (its last line is the token alone)."""
    from sqlalchemy import select

    from app import accounts
    from app.models import User

    with _rt().db.transaction() as s:
        u = s.scalar(select(User).where(User.email == email.strip().lower()))
        if u is None:
            raise click.ClickException(f"no user {email}")
        raw, _ = accounts.issue_token(s, u, name)
    click.echo(raw)


# -- running ----------------------------------------------------------------------------------------------

def _serve(host: str, port: int, worker: bool | None, threads: int) -> None:
    from waitress import serve as waitress_serve

    from app.factory import create_app

    rt = _rt()
    start_worker = rt.queues.embedded if worker is None else worker
    app = create_app(start_worker=start_worker)
    backend = "embedded queue + in-process worker" if rt.queues.embedded else "Redis queues"
    click.echo(f"greenlight on http://{host}:{port}  ({rt.db.engine.dialect.name}, {backend})")
    waitress_serve(app, host=host, port=port, threads=threads, ident="greenlight")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=None,
              help="run the embedded queue worker in this process (default: on without REDIS_URL)")
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, worker: bool | None, threads: int) -> None:
    """Serve the web app and API (waitress)."""
    _serve(host, port, worker, threads)


@main.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def up(host: str, port: int) -> None:
    """Migrate, seed the demo world and serve, with the worker in-process: the one-command start."""
    from app.demo import seed
    from app.migrate import upgrade

    upgrade(_rt().config.database_url, "head")
    click.echo("database migrated")
    seed(_rt(), echo=click.echo)
    _serve(host, port, None, 8)


@main.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Work QUEUES (default: gate render scan). With REDIS_URL: a forking RQ worker; without it,
    only what this process resumes from the database (the embedded queue lives in one process)."""
    from rq import Worker

    from app import generations
    from app.queues import QUEUE_NAMES, EmbeddedWorker

    names = tuple(queues) or QUEUE_NAMES
    unknown = set(names) - set(QUEUE_NAMES)
    if unknown:
        raise click.ClickException(f"unknown queues {sorted(unknown)}; choose from {list(QUEUE_NAMES)}")
    rt = _rt()
    resumed = generations.recover(rt, older_than_s=0 if rt.queues.embedded else rt.config.stall_after_s)
    click.echo(f"resumed {resumed} in-flight generations")

    def sweep_forever() -> None:
        while True:
            time.sleep(60)
            try:
                generations.recover(rt, older_than_s=rt.config.stall_after_s)
            except Exception:
                logging.getLogger(__name__).exception("recovery sweep failed")

    if burst:
        rt.queues.run_burst(names)
        return
    threading.Thread(target=sweep_forever, name="recovery-sweep", daemon=True).start()
    if rt.queues.embedded:
        w = EmbeddedWorker(rt.queues, names, poll_s=rt.config.worker_poll_s)
        w.start()
        w.join()
    else:
        Worker([rt.queues.queue(n) for n in names], connection=rt.queues.connection).work(with_scheduler=True)


@main.command("recover")
@click.option("--older-than", default=None, type=float, help="seconds untouched (default GL_STALL_AFTER_S)")
def recover(older_than: float | None) -> None:
    """Re-enqueue in-flight generations no live job carries."""
    from app import generations

    rt = _rt()
    n = generations.recover(rt, rt.config.stall_after_s if older_than is None else older_than)
    click.echo(f"enqueued {n}")


@main.command("demo")
def demo() -> None:
    """Seed a small demo world (idempotent)."""
    from app.demo import seed
    seed(_rt(), echo=click.echo)


@main.group()
def figures() -> None:
    """The public-figure list and its reference-face gallery."""


@figures.command("enrol-faces")
@click.argument("gallery", type=click.Path(exists=True, file_okay=False, path_type=Path))
def figures_enrol_faces(gallery: Path) -> None:
    """Embed GALLERY/<figure-id>/*.jpg and store each figure's face template (replacing it)."""
    from likeness.faces import load_face_models
    from likeness.figure_gallery import enrol_gallery
    from likeness.figures import load_figures

    models = load_face_models()
    with click.progressbar(length=1, label="enrolling figure faces", item_show_func=lambda x: x) as bar:
        def progress(done: int, total: int, name: str) -> None:
            bar.length = total
            bar.update(1, name)

        with _rt().db.transaction() as s:
            report = enrol_gallery(s, gallery, models, load_figures(), actor="system:cli", progress=progress)
    for fig in report.figures:
        problems = ", ".join(f"{name}: {code}" for name, code in fig.problems)
        click.echo(f"{fig.figure_id}: {fig.used}/{fig.photos} photos used" + (f" ({problems})" if problems else ""))
    for name in report.unknown:
        click.echo(f"{name}: not in the public-figure list, skipped", err=True)
    click.echo(f"{report.enrolled} figures enrolled with model {models.version}")
    if report.enrolled == 0:
        sys.exit(1)


@main.group()
def works() -> None:
    """Copyrighted works: reference images, claims whose disputes lapsed."""


@works.command("reindex-references")
def works_reindex_references() -> None:
    """Recompute every stored reference image's pHash, PDQ and embedding (under GL_IMAGE_EMBED_MODEL,
    when set): run it after changing the image-embedding model."""
    from app.kit.image_embedding import load_image_embedder
    from copyright.images import reindex_references

    embedder = load_image_embedder()
    with click.progressbar(length=1, label="re-indexing reference images") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(1)

        with _rt().db.transaction() as s:
            done, skipped = reindex_references(s, _rt().storage, embedder, progress=progress)
    model = embedder.model_id if embedder else "none (hashes only)"
    click.echo(f"{done} reference images re-indexed, embedding model {model}; "
               f"{skipped} without a stored image (added before images were kept: upload them again)")


@works.command("lapse-disputes")
@click.option("--actor", "actor_email", required=True, help="the admin or service account the rulings are made as")
@click.option("--days", default=None, type=click.IntRange(min=1), help="answer window (default 30)")
def works_lapse_disputes(actor_email: str, days: int | None) -> None:
    """Release video claims whose dispute nobody decided in time (run daily, e.g. from cron)."""
    from app.models import User
    from copyright.claims import DISPUTE_ANSWER_DAYS, lapse_overdue
    from sqlalchemy import select

    with _rt().db.transaction() as s:
        actor = s.scalar(select(User).where(User.email == actor_email.strip().lower()))
        if actor is None or actor.role not in (Role.ADMIN, Role.SERVICE):
            raise click.ClickException(f"{actor_email} is not an admin or service account")
        lapsed = lapse_overdue(s, actor, days=days or DISPUTE_ANSWER_DAYS)
    for claim in lapsed:
        click.echo(f"claim {claim.id} on {claim.generation_id}: lapsed ({claim.action})")
    click.echo(f"{len(lapsed)} disputes lapsed")


@main.group()
def banks() -> None:
    """Hash banks of known media (threatexchange signal files in and out)."""


def _bank_id(s, name: str) -> str:
    from safety.models import HashBank
    from sqlalchemy import select

    bank_id = s.scalar(select(HashBank.id).where(HashBank.name == name))
    if bank_id is None:
        raise click.ClickException(f"no hash bank named {name}")
    return bank_id


@banks.command("import")
@click.argument("bank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["te-file", "te-csv"]), default="te-file")
@click.option("--signal-type", type=click.Choice(["pdq", "phash"]), help="te-file lines hold bare signals of this type")
@click.option("--actor", "actor_email", required=True, help="the admin account the import is recorded as")
def banks_import(bank: str, file: Path, fmt: str, signal_type: str | None, actor_email: str) -> None:
    """Add FILE's signals to BANK: every line or none."""
    from app.errors import GreenlightError
    from app.models import User
    from safety.hashbanks import import_signals
    from sqlalchemy import select

    text = file.read_text(encoding="utf-8")
    with click.progressbar(length=1, label=f"importing into {bank}") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        try:
            with _rt().db.transaction() as s:
                actor = s.scalar(select(User).where(User.email == actor_email.strip().lower()))
                if actor is None or actor.role != Role.ADMIN:
                    raise click.ClickException(f"{actor_email} is not an admin")
                report = import_signals(s, actor, _bank_id(s, bank), text, fmt, source=f"import:{file.name}",
                                        default_type=signal_type, progress=progress)
        except GreenlightError as exc:
            lines = exc.details.get("lines", [])
            for problem in lines[:20]:
                click.echo(f"line {problem['line']}: {problem['error']}", err=True)
            raise click.ClickException(exc.message) from None
    click.echo(f"{report.added} signals added, {report.already_there} already in {bank}")


@banks.command("export")
@click.argument("bank")
@click.option("--format", "fmt", type=click.Choice(["te-file", "te-csv"]), default="te-file")
def banks_export(bank: str, fmt: str) -> None:
    """Print BANK's signals in threatexchange's file (or dataset CSV) format."""
    from safety.hashbanks import export_signals

    with _rt().db.transaction() as s:
        click.echo(export_signals(s, _bank_id(s, bank), fmt), nl=False)


@main.group()
def transparency() -> None:
    """Statements of reasons for regulators (EU DSA transparency database fields)."""


@transparency.command("export")
@click.option("--since", "since_", required=True, help="ISO date or date-time (UTC when no offset)")
@click.option("--until", "until_", default=None, help="exclusive end, ISO date or date-time")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", help="json: one record a line")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="default: stdout")
def transparency_export(since_: str, until_: str | None, fmt: str, output: Path | None) -> None:
    """Export the statements issued from SINCE (to UNTIL)."""
    from datetime import datetime, timezone

    from app import statements

    def moment(text: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"{text!r} is not an ISO date or date-time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)

    start, end = moment(since_), moment(until_) if until_ else None
    with _rt().db.transaction() as s:
        found = statements.since(s, start, end)
        text = statements.export(found, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{len(found)} statements written to {output}", err=True)


@main.group()
def policy() -> None:
    """The declarative safety policy (safety/data/policy.toml)."""


def _load_policy_or_exit(file: Path):
    from safety.policy import PolicyError, classifier_categories, load_file

    required, forced = classifier_categories()
    try:
        return load_file(file, required=required, always_block=forced)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        sys.exit(1)


@policy.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy_check(file: Path) -> None:
    """Validate FILE against the classifiers' categories; print what each finding does."""
    loaded = _load_policy_or_exit(file)
    click.echo(f"{file}: policy {loaded.version} is valid ({len(loaded.categories)} categories)")
    click.echo(f"{'category':22} {'adult possible':>15} {'adult likely':>13} {'teen possible':>14} {'teen likely':>12}")
    for name, *actions in loaded.table():
        click.echo(f"{name:22} {actions[0]:>15} {actions[1]:>13} {actions[2]:>14} {actions[3]:>12}")


@policy.command("dry-run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", "since_", default=None, help="only generations created from this ISO date")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(min=1))
def policy_dry_run(file: Path, since_: str | None, limit: int) -> None:
    """Replay stored generations under FILE and report which outcomes would change (writes nothing)."""
    from datetime import datetime, timezone

    from safety.dry_run import replay

    candidate = _load_policy_or_exit(file)
    since = None
    if since_:
        since = datetime.fromisoformat(since_)
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    with click.progressbar(length=1, label="replaying generations") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        with _rt().db.transaction() as s:
            report = replay(s, candidate, since=since, limit=limit, progress=progress)
            s.rollback()  # a dry run writes nothing
    click.echo(f"policy {report.policy_version}: {len(report.changes)} of {report.examined} generations would change")
    for (was, will), n in sorted(report.transitions.items()):
        click.echo(f"  {was} -> {will}: {n}")
    for change in report.changes[:50]:
        click.echo(f"  {change.generation_id} [{change.status}] {change.before} -> {change.after} "
                   f"({', '.join(change.categories) or '-'}): {change.prompt}")


@main.group()
def keys() -> None:
    """Encryption keys for face templates."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every face template under a new key (file keyring) or under the first key of
    GL_TEMPLATE_KEYS (environment keyring: put the new key first, keep the old one until done)."""
    from likeness import templates

    ring = templates.keyring()
    from_env = ring.path is None
    with click.progressbar(length=1, label="re-encrypting templates") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(1)

        with _rt().db.transaction() as s:
            n = templates.rotate(s, ring, new_key=not from_env, progress=progress)
    if not from_env:
        ring.retire_all_but_active()
        ring.save()
    click.echo(f"{n} templates now under key {ring.active}")


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
def audit_verify() -> None:
    from app import audit as audit_log

    with _rt().db.transaction() as s:
        report = audit_log.verify(s)
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events")
    else:
        click.echo(f"audit chain BROKEN at event {report.first_bad_id}: {report.problem}", err=True)
        sys.exit(1)


# -- config ---------------------------------------------------------------------------------------------

@main.group("config")
def config_group() -> None:
    """The environment variables Greenlight reads, declared in app/config.py."""


@config_group.command("docs")
@click.option("--check", is_flag=True, help="fail if docs/configuration.md differs from the declarations")
def config_docs(check: bool) -> None:
    """Print docs/configuration.md as the declarations render it."""
    from app.config import DOCS_PATH, render_docs, source_checkout

    rendered = render_docs()
    if not check:
        click.echo(rendered, nl=False)
        return
    checkout = source_checkout()
    if checkout is None:
        raise click.ClickException(f"--check compares {DOCS_PATH} in a source checkout; this is an installed copy")
    written = checkout / DOCS_PATH
    if not written.is_file() or written.read_text(encoding="utf-8") != rendered:
        click.echo(f"{written} is out of date: run `greenlight config docs > {DOCS_PATH}`", err=True)
        sys.exit(1)
    click.echo(f"{DOCS_PATH} matches the declarations")


@config_group.command("instance")
def config_instance() -> None:
    """Print the instance folder every command uses (the rule: docs/configuration.md)."""
    from app.config import instance_dir

    click.echo(instance_dir())


if __name__ == "__main__":
    main()
