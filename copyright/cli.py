"""Operator commands of the copyright domain: `greenlight works ...`."""

from __future__ import annotations

import click

from app import runtime


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
    with click.progressbar(length=1, label="re-indexing reference images") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(1)

        with _rt().db.transaction() as s:
            done, skipped = reindex_references(s, _rt().storage, embedder, progress=progress)
    model = embedder.model_id if embedder else "none (hashes only)"
    click.echo(f"{done} reference images re-indexed, embedding model {model}; "
               f"{skipped} without a stored image (added before images were kept: upload them again)")
