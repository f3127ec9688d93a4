"""The `greenlight` command. Its commands and flags are a stable contract for operators' scripts."""

from __future__ import annotations

import faulthandler
import itertools
import logging
import signal
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


class _Greenlight(click.Group):
    """A misconfigured variable is one line naming it, not a traceback."""

    def invoke(self, ctx: click.Context):
        from app.config import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=_Greenlight)
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def main(verbose: bool) -> None:
    """Greenlight: nothing is rendered until it is greenlit."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- db ---------------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Schema migrations (Alembic): the only way the schema is made."""


def _migrate(revision: str) -> None:
    """Migrate as the tables' owner (GL_MIGRATION_DATABASE_URL, else DATABASE_URL), grant the app's
    role (GL_DATABASE_APP_ROLE), then anchor the chains: a checkpoint of each that moved."""
    from app.config import setting
    from app.migrate import upgrade

    rt = _rt()
    upgrade(setting("GL_MIGRATION_DATABASE_URL") or rt.config.database_url, revision,
            app_role=setting("GL_DATABASE_APP_ROLE"))
    if revision == "head":
        _checkpoint_chains(rt, only_if_moved=True)


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate, grant the app's role, checkpoint the chains (docs/deployment.md)."""
    _migrate(revision)
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
@click.option("--expires-in", default=None, metavar="DURATION",
              help="how long the token is valid: 30m, 24h, 90d (default: GL_TOKEN_LIFETIME)")
def token(email: str, name: str, expires_in: str | None) -> None:
    """Print a new API token for EMAIL (its last line is the token alone)."""
    from sqlalchemy import select

    from app import accounts
    from app.config import DURATION
    from app.models import User

    try:
        lifetime_s = DURATION.parse(expires_in) if expires_in else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in") from None
    with _rt().db.transaction() as s:
        u = s.scalar(select(User).where(User.email == email.strip().lower()))
        if u is None:
            raise click.ClickException(f"no user {email}")
        raw, issued = accounts.issue_token(s, u, name, lifetime_s=lifetime_s)
        expires = issued.expires_at
    click.echo(f"expires {expires:%Y-%m-%d %H:%M} UTC", err=True)  # stdout stays the token alone
    click.echo(raw)


# -- running ----------------------------------------------------------------------------------------------

def _refuse_to_start_on_problems() -> None:
    """`serve`, `worker` and `up` start only when nothing is wrong (app/start_checks.py): a missing
    model fails the start, not the first request."""
    from app import start_checks

    problems = start_checks.problems(_rt())
    if problems:
        click.echo("greenlight will not start:\n" + "".join(f"  - {p}\n" for p in problems), err=True, nl=False)
        sys.exit(1)


def _serve(host: str, port: int, worker: bool | None, threads: int | None, workers: int | None = 0) -> None:
    """gunicorn with `workers` processes, or one waitress process (workers 0, and always with the
    embedded queue): app/web_server.py says why."""
    from app import web_server
    from app.config import setting
    from app.factory import create_app

    rt = _rt()
    if workers is None:
        workers = 0 if rt.queues.embedded else web_server.default_workers()
    if workers and rt.queues.embedded:
        raise click.ClickException("the embedded queue lives in one process: set REDIS_URL (and run "
                                   "`greenlight worker`) to serve with several, or use --workers 0")
    start_worker = rt.queues.embedded if worker is None else worker
    app = create_app(start_worker=start_worker)
    backend = "embedded queue + in-process worker" if rt.queues.embedded else "Redis queues"
    if workers:
        threads = threads or setting("GL_WEB_THREADS")
        click.echo(f"greenlight on http://{host}:{port}  ({rt.db.engine.dialect.name}, {backend}; "
                   f"gunicorn, {workers} processes x {threads} threads)")
        web_server.serve_gunicorn(app, web_server.gunicorn_options(host, port, workers, threads))
    else:
        click.echo(f"greenlight on http://{host}:{port}  ({rt.db.engine.dialect.name}, {backend}; waitress)")
        web_server.serve_waitress(app, host, port, threads or 8)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=None,
              help="run the embedded queue worker in this process (default: on without REDIS_URL)")
@click.option("--workers", default=None, type=click.IntRange(0),
              help="gunicorn processes; 0: one waitress process  [default: GL_WEB_WORKERS, else one per CPU core; "
                   "0 without REDIS_URL]")
@click.option("--threads", default=None, type=click.IntRange(1),
              help="request threads per process  [default: GL_WEB_THREADS for gunicorn, 8 for waitress]")
def serve(host: str, port: int, worker: bool | None, workers: int | None, threads: int | None) -> None:
    """Serve the web app and API: gunicorn processes with Redis queues, one waitress process with the
    embedded queue."""
    _refuse_to_start_on_problems()
    _serve(host, port, worker, threads, workers)


@main.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def up(host: str, port: int) -> None:
    """Migrate, seed the demo world and serve, with the worker in-process: the one-command start."""
    from app.demo import seed

    _migrate("head")
    click.echo("database migrated")
    _refuse_to_start_on_problems()  # after migrating (a domain's check may read tables), before the demo gates
    seed(_rt(), echo=click.echo)
    _serve(host, port, None, 8, workers=0)


@main.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Work QUEUES (default: gate render scan). With REDIS_URL: a forking RQ worker; without it,
    only what this process resumes from the database (the embedded queue lives in one process).
    At start and every GL_RECOVERY_INTERVAL_S it runs abandoned jobs again and removes stale
    partial files; its children (work-horse, scheduler) end with it."""
    from app import orchestrator
    from app.queues import QUEUE_NAMES, EmbeddedWorker

    names = tuple(queues) or QUEUE_NAMES
    unknown = set(names) - set(QUEUE_NAMES)
    if unknown:
        raise click.ClickException(f"unknown queues {sorted(unknown)}; choose from {list(QUEUE_NAMES)}")
    _refuse_to_start_on_problems()
    # `kill -USR1 <pid>` writes every thread's stack to the log: how a stuck worker is diagnosed.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    rt = _rt()
    # The embedded queue is this process's own: whatever is in flight has no job and resumes now.
    outcome = orchestrator.recovery_pass(rt, older_than_s=0 if rt.queues.embedded else None)
    if outcome is None:
        click.echo("resumed 0 in-flight generations (another worker's recovery pass is running)")
    else:
        click.echo(f"resumed {outcome[0]} in-flight generations, removed {outcome[1]} partial files")

    def sweep_forever() -> None:
        # The recovery pass has its own, shorter interval (RecoveryLoop); this loop is the slow duties'.
        for minute in itertools.count(1):
            time.sleep(60)
            try:
                if minute % 10 == 0:
                    _sweep_cases(rt, None)  # deadlines: lapse what must lapse, alert on what is stale
                if minute % 60 == 0:
                    _purge_media(rt)  # withheld videos past their legal-hold retention
            except Exception:
                logging.getLogger(__name__).exception("recovery sweep failed")
            try:
                _scheduled_checkpoints(rt, minute)
            except Exception:
                logging.getLogger(__name__).exception("chain checkpoint failed")

    if burst:
        w = rt.queues.worker(names)
        with rt.queues.heartbeat(w):
            rt.queues.run_burst(names, w)
        return
    threading.Thread(target=sweep_forever, name="recovery-sweep", daemon=True).start()
    orchestrator.RecoveryLoop(rt).start()
    if rt.queues.embedded:
        w = EmbeddedWorker(rt.queues, names, poll_s=rt.config.worker_poll_s)
        w.start()
        w.join()
    else:
        w = rt.queues.forking_worker(names)
        with rt.queues.heartbeat(w):
            w.work(with_scheduler=True)


def _checkpoint_chains(rt: runtime.Runtime, only_if_moved: bool = False) -> list:
    """A signed checkpoint of each chain's head (app/chain.py); None for a chain that has not moved
    since its newest checkpoint when `only_if_moved`."""
    from app import audit, chain

    written = []
    for c in audit.chains():
        with rt.db.transaction() as s:
            written.append((c, chain.checkpoint(s, c, rt.config.instance_dir, only_if_moved=only_if_moved)))
    return written


def _scheduled_checkpoints(rt: runtime.Runtime, minute: int) -> list:
    """The worker's: every GL_CHECKPOINT_INTERVAL (in whole minutes), the chains that moved."""
    from app.config import setting

    if minute % max(1, setting("GL_CHECKPOINT_INTERVAL") // 60):
        return []
    return _checkpoint_chains(rt, only_if_moved=True)


def _sweep_cases(rt: runtime.Runtime, email: str | None) -> dict[str, int] | None:
    from sqlalchemy import select

    from app import case_decisions
    from app.models import Role, User

    with rt.db.transaction() as s:
        stmt = select(User).where(User.email == email.lower()) if email else (
            select(User).where(User.role == Role.ADMIN.value).order_by(User.created_at).limit(1))
        actor = s.scalar(stmt)
        if actor is None:
            return None
        return case_decisions.sweep(s, actor)


@main.group()
def cases() -> None:
    """Cases: deadlines and alerts."""


@cases.command("sweep")
@click.option("--as", "email", default=None, help="the admin recorded as deciding lapsed cases (default: the first admin)")
def cases_sweep(email: str | None) -> None:
    """Handle cases past their deadline (a dispute lapses for the creator) and alert on stale ones.
    The worker runs this every 10 minutes; run it from cron where no worker runs."""
    counts = _sweep_cases(_rt(), email)
    if counts is None:
        raise click.ClickException("no admin account to act as: create one or pass --as")
    click.echo(f"lapsed {counts['lapsed']}, alerted {counts['alerted']}")


@main.group()
def media() -> None:
    """Rendered media: the legal hold of withheld videos."""


def _purge_media(rt: runtime.Runtime, echo=None) -> int:
    from app import media_holds

    def progress(n: int, total: int, hold) -> None:
        if echo:
            echo(f"[{n}/{total}] purged {hold.id}.mp4 (generation {hold.generation_id}, {hold.reason}, "
                 f"held {hold.held_at:%Y-%m-%d})")

    with rt.db.transaction() as s:
        result = media_holds.purge(s, progress=progress)
    if echo:
        echo(f"purged {result.purged} held videos past their retention"
             + (f"; {result.missing} were already gone" if result.missing else ""))
    return result.purged + result.missing


@media.command("purge")
def media_purge() -> None:
    """Delete withheld videos whose legal-hold retention (GL_MEDIA_HOLD_DAYS) has passed. The worker
    runs this every hour; run it from cron where no worker runs."""
    _purge_media(_rt(), click.echo)


@main.group()
def mail() -> None:
    """Mail to people without an account."""


@mail.command("outbox")
@click.option("--to", default=None, help="only mail to this address")
@click.option("--limit", default=20, show_default=True)
def mail_outbox(to: str | None, limit: int) -> None:
    """The newest messages waiting for (or sent by) the mail relay."""
    from app import mail as mail_service

    with _rt().db.transaction() as s:
        for m in mail_service.outbox(s, to, limit):
            click.echo(f"{m.created_at:%Y-%m-%d %H:%M} to {m.to}: {m.subject}\n  {m.body}")


@main.command("recover")
@click.option("--older-than", default=None, type=float, help="seconds untouched (default GL_STALL_AFTER_S)")
def recover(older_than: float | None) -> None:
    """Re-enqueue in-flight generations no live job carries."""
    from app import orchestrator

    rt = _rt()
    n = orchestrator.recover(rt, rt.config.stall_after_s if older_than is None else older_than)
    click.echo(f"enqueued {n}")


@main.command("demo")
def demo() -> None:
    """Seed a small demo world (idempotent)."""
    from app.demo import seed
    seed(_rt(), echo=click.echo)


@main.group()
def transparency() -> None:
    """Statements of reasons for regulators (EU DSA transparency database fields)."""


@transparency.command("export")
@click.option("--since", "since_", required=True, help="ISO date or date-time (UTC when no offset)")
@click.option("--until", "until_", default=None, help="exclusive end, ISO date or date-time")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "dsa"]), default="json",
              help="json: one record a line (ours, with gl_* fields); csv: the same as CSV; dsa: one submission a line "
                   "for the DSA transparency database (its fields only, no personal data)")
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
    refused: dict[str, list[str]] = {}
    with _rt().db.transaction() as s:
        found = statements.since(s, start, end)
        if fmt == "dsa":  # only what the database would accept leaves; the rest is reported
            text, refused = statements.submissions(found)
        else:
            text = statements.export(found, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{len(found)} statements written to {output}", err=True)
    for puid, problems in refused.items():
        click.echo(f"refused by the DSA database's rules: {puid}: {'; '.join(problems)}", err=True)
    if refused:
        raise SystemExit(1)


@main.group()
def audit() -> None:
    """The tamper-evident audit log and revenue ledger: keyed hash chains, signed checkpoints."""


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign each chain's head (count, last hash) into GL_CHECKPOINT_DIR. The worker does this every
    GL_CHECKPOINT_INTERVAL; run it from cron where no worker runs."""
    for c, point in _checkpoint_chains(_rt()):
        click.echo(f"{c.name}: {point.count} events, head {point.head[:16]}, signed by {point.key_id} "
                   f"into {point.path}")


@audit.command("verify")
def audit_verify() -> None:
    """Check every row of the audit and ledger chains against the chain key, and each chain against
    every signed checkpoint: exits 1 on an edited, re-hashed, inserted or deleted row, a truncated
    table, a deleted tail, a checkpoint whose signature does not verify, or no checkpoint at all."""
    from app import audit, chain

    rt = _rt()
    instance = rt.config.instance_dir
    key, signer = chain.chain_key(instance, create=False), chain.signing_key(instance, create=False)
    failed = False
    for c in audit.chains():
        try:
            points = chain.load_checkpoints(c, instance, signer)
        except chain.CheckpointError as exc:
            click.echo(f"{c.name} chain BROKEN: {exc}", err=True)
            failed = True
            continue
        with rt.db.transaction() as s:
            report = chain.verify(s, c, key, points)
        if not report.ok:
            where = f" at event {report.first_bad_id}" if report.first_bad_id is not None else ""
            click.echo(f"{c.name} chain BROKEN{where}: {report.problem}", err=True)
            failed = True
        elif not points:
            click.echo(f"{c.name} chain UNANCHORED: {report.checked} events, but no checkpoint in "
                       f"{chain.checkpoint_dir(instance) / c.name}, so a truncated table or a deleted tail "
                       f"cannot be seen; run `greenlight audit checkpoint`", err=True)
            failed = True
        else:
            click.echo(f"{c.name} chain intact: {report.checked} events (against {len(points)} signed "
                       f"checkpoints, the newest at {report.anchored_at} events)")
    if failed:
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


# -- models ---------------------------------------------------------------------------------------------

@main.group()
def models() -> None:
    """The model files the stages load: where, which exact file, under which licence."""


@models.command("list")
@click.option("--markdown", is_flag=True, help="the table docs/LICENSES.md holds")
def models_list(markdown: bool) -> None:
    from app import model_report, start_checks

    try:
        records = start_checks.records(_rt().config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo((model_report.markdown_table if markdown else model_report.text_table)(records), nl=False)


@models.command("check")
def models_check() -> None:
    """Load every model once: exit 1 naming each one missing, altered, refused or not loading."""
    from app import start_checks

    started = time.perf_counter()
    problems = start_checks.model_problems(_rt().config, load=True)
    if problems:
        click.echo("".join(f"{p}\n" for p in problems), err=True, nl=False)
        sys.exit(1)
    click.echo(f"every model is in place, as recorded, allowed and loads "
               f"({time.perf_counter() - started:.1f} s)")


def _add_domain_commands() -> None:
    from app import domains
    from app.factory import load_plugins

    load_plugins()
    for domain in domains.domains():
        for command in domain.commands() if domain.commands else ():
            main.add_command(command)


_add_domain_commands()

if __name__ == "__main__":
    main()
