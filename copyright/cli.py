"""Operator commands of the copyright domain: `greenlight works ...` and `greenlight ledger ...`."""

from __future__ import annotations

import click

from app import runtime
from app.progress import progress


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
def works() -> None:
    """Copyrighted works: reference images."""


@works.command("reindex-references")
def works_reindex_references() -> None:
    """Recompute every stored reference image's pHash, PDQ and embedding (under GL_IMAGE_EMBED_MODEL,
    when set): run it after changing the image-embedding model."""
    from app.kit.image_embedding import load_image_embedder
    from copyright.images import reindex_references

    embedder = load_image_embedder()
    with progress("re-indexing reference images") as report, _rt().db.transaction() as s:
        done, skipped = reindex_references(s, _rt().storage, embedder, progress=report)
    model = embedder.model_id if embedder else "none (hashes only)"
    click.echo(f"{done} reference images re-indexed, embedding model {model}; "
               f"{skipped} without a stored image (added before images were kept: upload them again)")


@click.group()
def ledger() -> None:
    """The revenue ledger: closing and reopening months."""


def _admin(s, email: str):
    from sqlalchemy import select

    from app.models import Role, User

    actor = s.scalar(select(User).where(User.email == email.strip().lower()))
    if actor is None or actor.role != Role.ADMIN:
        raise click.ClickException(f"{email} is not an admin")
    return actor


def _period(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter("a period is YYYY-MM", param_hint="PERIOD")
    return value


@ledger.command("close-period")
@click.argument("period")
@click.option("--actor", "actor_email", required=True, help="the admin account the close is recorded as")
def ledger_close_period(period: str, actor_email: str) -> None:
    """Close PERIOD (YYYY-MM), a month that has ended: its postings are final."""
    from app.errors import GreenlightError
    from copyright.revenue import close_period

    try:
        with _rt().db.transaction() as s:
            close_period(s, _admin(s, actor_email), _period(period))
    except GreenlightError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"period {period} closed")


@ledger.command("reopen-period")
@click.argument("period")
@click.option("--reason", required=True, help="why the month is reopened (audited)")
@click.option("--actor", "actor_email", required=True, help="the admin account the reopening is recorded as")
def ledger_reopen_period(period: str, reason: str, actor_email: str) -> None:
    """Reopen the closed PERIOD (YYYY-MM): events of that month land in it again until it is closed."""
    from app.errors import GreenlightError
    from copyright.revenue import reopen_period

    try:
        with _rt().db.transaction() as s:
            reopen_period(s, _admin(s, actor_email), _period(period), reason)
    except GreenlightError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"period {period} reopened")
