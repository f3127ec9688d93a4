"""The `greenlight` command. Its commands and flags are a stable contract for operators' scripts."""

from __future__ import annotations

import itertools
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
    _refuse_to_start_on_problems()
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
    _refuse_to_start_on_problems()  # after migrating (a domain's check may read tables), before the demo gates
    seed(_rt(), echo=click.echo)
    _serve(host, port, None, 8)


@main.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Work QUEUES (default: gate render scan). With REDIS_URL: a forking RQ worker; without it,
    only what this process resumes from the database (the embedded queue lives in one process)."""
    from rq import Worker

    from app import orchestrator
    from app.queues import QUEUE_NAMES, EmbeddedWorker

    names = tuple(queues) or QUEUE_NAMES
    unknown = set(names) - set(QUEUE_NAMES)
    if unknown:
        raise click.ClickException(f"unknown queues {sorted(unknown)}; choose from {list(QUEUE_NAMES)}")
    _refuse_to_start_on_problems()
    rt = _rt()
    resumed = orchestrator.recover(rt, older_than_s=0 if rt.queues.embedded else rt.config.stall_after_s)
    click.echo(f"resumed {resumed} in-flight generations")

    def sweep_forever() -> None:
        for minute in itertools.count(1):
            time.sleep(60)
            try:
                orchestrator.recover(rt, older_than_s=rt.config.stall_after_s)
                if minute % 10 == 0:
                    _sweep_cases(rt, None)  # deadlines: lapse what must lapse, alert on what is stale
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
