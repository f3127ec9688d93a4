"""Operator commands of the copyright domain: `greenlight works ...`."""

from __future__ import annotations


import click

from app import runtime
from app.models import Role


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
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


