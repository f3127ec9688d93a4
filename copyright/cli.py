"""Operator commands of the copyright domain: `greenlight works ...` and `greenlight ledger ...`."""

from __future__ import annotations

from pathlib import Path

import click

from app import runtime
from app.progress import progress


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
def works() -> None:
    """Copyrighted works: reference images, the work head, the work facts."""


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


@works.command("train-head")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the head (default: the shipped copyright/data/work_head.safetensors)")
@click.option("--rows", "rows_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="training prompts (default: copyright/data/ip_training.jsonl)")
@click.option("--counterparts", "counterparts_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="everyday counterparts (default: copyright/data/everyday_counterparts.jsonl)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--steps", default=None, type=click.IntRange(min=1), help="optimiser steps (default 1500)")
@click.option("--version", "version", default=None, help="the head's version (default: today's date)")
def works_train_head(out: Path | None, rows_path: Path | None, counterparts_path: Path | None, seed: int,
                     steps: int | None, version: str | None) -> None:
    """Train the IP classifier's work head on prompts that describe catalogued works without naming
    them, on the catalogue's descriptions and on look-alikes: about a minute on 2 cores."""
    from datetime import date

    from app.kit.text_embedding import load_text_embedder
    from copyright.catalogue import load_catalogue
    from copyright.everyday import DEFAULT_COUNTERPARTS, read_counterparts
    from copyright.ip_text import IpTextClassifier
    from copyright.work_head import head_path, save_head
    from copyright.work_head_training import STEPS, TRAINING_ROWS, calibration_rows, read_rows, train

    try:
        rows = read_rows(rows_path or TRAINING_ROWS)
        counterparts = read_counterparts(counterparts_path or DEFAULT_COUNTERPARTS)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc))
    classifier = IpTextClassifier(load_catalogue(), load_text_embedder())
    with progress("training the work head") as report:
        try:
            head = train(classifier, rows, version=version or date.today().isoformat(), seed=seed,
                         steps=steps or STEPS, checked=calibration_rows(), counterparts=counterparts.texts,
                         progress=report)
        except ValueError as exc:
            raise click.ClickException(str(exc))
    path = save_head(out or head_path(), head)
    t = head.training
    click.echo(f"wrote {path}: {len(head.works)} works, trained on {t['rows']} prompts and {t['descriptions']} "
               f"descriptions; cut-offs {head.cutoffs.tag()} chosen on {t['validation_rows']} kept back and "
               f"{t['validation_lookalikes'] - (t['validation_rows'] - t['validation_described'])} calibration negatives: "
               f"{t['validation_blocked_right']}/{t['validation_described']} described prompts blocked as their "
               f"work, {t['validation_blocked_other_work']} as another, {t['validation_lookalikes_blocked']} of "
               f"{t['validation_lookalikes']} look-alikes; {t['everyday_counterparts']} everyday counterparts kept")


@works.command("build-facts")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the index (default: the shipped copyright/data/work_facts.safetensors)")
@click.option("--benign", "benign_paths", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="more benign prompts (JSON lines with \"prompt\" or \"text\"; rows with a work_id or labels are "
                   "skipped), beside the counterparts, look-alikes and calibration negatives; repeatable")
@click.option("--version", "version", default=None, help="the index's version (default: today's date)")
def works_build_facts(out: Path | None, benign_paths: tuple[Path, ...], version: str | None) -> None:
    """Embed copyright/data/work_facts.jsonl and find each fact's benign ceiling (the closest any benign
    prompt comes to it; of the --benign prompts, those the other layers block as the fact's own work or
    franchise are left out): about 12 minutes on 2 cores."""
    from datetime import date

    from app.kit.text_embedding import load_text_embedder
    from copyright.catalogue import load_catalogue
    from copyright.ip_text import IpTextClassifier
    from copyright.work_facts import benign_texts, build, index_path, read_facts, save
    from copyright.work_head import head_path, load_head

    embedder = load_text_embedder()
    try:
        book = read_facts()
        negatives, unlabelled, sources = benign_texts(benign_paths)
        head = load_head(head_path(), embedder.tag)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc))
    reader = IpTextClassifier(load_catalogue(), embedder, head=head)
    with progress("embedding the facts") as report:
        facts = build(book, embedder, negatives, unlabelled=unlabelled, version=version or date.today().isoformat(),
                      read_as=reader.blocked_kin, sources=sources, progress=report)
    path = save(out or index_path(), facts)
    click.echo(f"wrote {path}: {len(book.texts)} facts of {len(set(book.works))} works; ceilings from "
               f"{len(negatives)} labelled negatives and {len(unlabelled)} other benign prompts; "
               f"cut-offs {facts.cutoffs.tag()}")


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
