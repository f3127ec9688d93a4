"""Operator commands of the safety domain: `greenlight banks ...`, `greenlight policy ...`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app import runtime
from app.progress import progress
from app.models import Role


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
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
    with progress(f"importing into {bank}") as report_progress:
        try:
            with _rt().db.transaction() as s:
                actor = s.scalar(select(User).where(User.email == actor_email.strip().lower()))
                if actor is None or actor.role != Role.ADMIN:
                    raise click.ClickException(f"{actor_email} is not an admin")
                report = import_signals(s, actor, _bank_id(s, bank), text, fmt, source=f"import:{file.name}",
                                        default_type=signal_type, progress=report_progress)
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


@click.group()
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
    headings = [f"{audience} {level}" for audience in ("adult", "teen") for level in ("possible", "likely", "certain")]
    click.echo(f"{'category':22} " + " ".join(f"{h:>15}" for h in headings))
    for name, *actions in loaded.table():
        click.echo(f"{name:22} " + " ".join(f"{a:>15}" for a in actions))


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
    with progress("replaying generations") as report_progress, _rt().db.transaction() as s:
        report = replay(s, candidate, since=since, limit=limit, progress=report_progress)
        s.rollback()  # a dry run writes nothing
    click.echo(f"policy {report.policy_version}: {len(report.changes)} of {report.examined} generations would change")
    for (was, will), n in sorted(report.transitions.items()):
        click.echo(f"  {was} -> {will}: {n}")
    for change in report.changes[:50]:
        click.echo(f"  {change.generation_id} [{change.status}] {change.before} -> {change.after} "
                   f"({', '.join(change.categories) or '-'}): {change.prompt}")


@policy.command("train-head")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the head (default: the shipped safety/data/prompt_head.safetensors)")
@click.option("--labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="labelled prompts (default: safety/data/eval_prompts.jsonl; its TRAIN_SPLITS rows are used)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--version", "version", default=None, help="the head's version (default: today's date)")
@click.option("--epochs", default=None, type=click.IntRange(min=1), help="full-batch epochs per member (default 300)")
@click.option("--reader", type=click.Choice(["minilm", "multilingual"]), default="minilm", show_default=True,
              help="the head over MiniLM's view embeddings, or the one over the multilingual embedder's")
@click.option("--with-written", is_flag=True,
              help="train on the written split too, and the multilingual head on the written_foreign split "
                   "(the shipped multilingual head is; MiniLM's is not)")
@click.option("--synthetic", default=None, type=click.IntRange(min=0),
              help="synthetic buried scenes to train on besides the labelled prompts (default 400)")
def policy_train_head(out: Path | None, labelled: Path | None, seed: int, version: str | None,
                      epochs: int | None, reader: str, with_written: bool, synthetic: int | None) -> None:
    """Train one of the prompt classifier's learned heads on the labelled prompts (3 minutes on 2
    cores for MiniLM's; the multilingual one with --with-written 42 minutes, 33 of them embedding
    11,572 prompts' sentences)."""
    from datetime import date

    from safety.head_training import (EPOCHS, FOREIGN_SPLITS, LABELLED, SYNTHETIC_BURIED, TRAIN_SPLITS,
                                      WRITTEN_SPLITS, read_labelled, train_for)
    from safety.prompt_classifier import classifier_without_head
    from safety.prompt_head import head_path, multilingual_head_path

    try:
        rows = read_labelled(labelled or LABELLED)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    classifier = classifier_without_head()
    multilingual = None
    if reader == "multilingual":
        from app.kit.multilingual_embedding import load_multilingual_embedder
        multilingual = load_multilingual_embedder()
    with progress("training the prompt head") as report:
        head = train_for(classifier, rows, version=version or date.today().isoformat(), seed=seed,
                         epochs=epochs or EPOCHS, multilingual=multilingual,
                         synthetic=SYNTHETIC_BURIED if synthetic is None else synthetic,
                         splits=TRAIN_SPLITS + (WRITTEN_SPLITS if with_written else ()) +
                         (FOREIGN_SPLITS if with_written and multilingual is not None else ()),
                         progress=lambda stage, done, total: report(done, total,
                                                                     label=f"training the prompt head: {stage}"))
    path = head.save(out or (head_path() if multilingual is None else multilingual_head_path()))
    figures = head.training["out_of_fold"]
    click.echo(f"wrote {path}: {head.w1.shape[0]} members over {head.training['prompts']} prompts; out of fold "
               f"{figures['harmful_block']}/{figures['harmful']} harmful blocked, "
               f"{figures['benign_block']}/{figures['benign']} benign blocked, "
               f"{figures['benign_review']}/{figures['benign']} benign at review or more")


@policy.command("train-reader")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the reader (default: the shipped safety/data/prompt_reader.safetensors, "
                   "or prompt_reader_multilingual.safetensors)")
@click.option("--labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="labelled prompts (default: safety/data/eval_prompts.jsonl; its READER_SPLITS rows are used)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--version", "version", default=None, help="the reader's version (default: today's date)")
@click.option("--epochs", default=None, type=click.IntRange(min=1),
              help="passes over the prompts (default 3; the multilingual reader 2)")
@click.option("--reader", type=click.Choice(["minilm", "multilingual"]), default="minilm", show_default=True,
              help="MiniLM fine-tuned for English prompts, or multilingual-e5 for the prompts MiniLM cannot read "
                   "(trained on the foreign rows, written_foreign included, and some English ones)")
def policy_train_reader(out: Path | None, labelled: Path | None, seed: int, version: str | None,
                        epochs: int | None, reader: str) -> None:
    """Fine-tune one of the prompt classifier's readers (LoRA over a text encoder) on the labelled
    prompts: MiniLM's about 6 minutes an epoch on 2 cores (shipped: 3 epochs, 17.5 minutes), e5's
    about 6 minutes an epoch (shipped: 2 epochs)."""
    from datetime import date

    from safety.head_training import LABELLED, read_labelled
    from safety.prompt_classifier import classifier_without_head
    from safety.prompt_reader import multilingual_reader_path, reader_path
    from safety.reader_training import EPOCHS, MULTILINGUAL_EPOCHS, save_reader, train_for, train_multilingual_for

    try:
        rows = read_labelled(labelled or LABELLED)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    classifier = classifier_without_head()
    multilingual = reader == "multilingual"
    train = train_multilingual_for if multilingual else train_for
    with progress("training the prompt reader") as report:
        arrays, meta = train(classifier, rows, version=version or date.today().isoformat(), seed=seed,
                             epochs=epochs or (MULTILINGUAL_EPOCHS if multilingual else EPOCHS),
                             progress=lambda stage, done, total: report(done, total,
                                                                         label=f"training the prompt reader: {stage}"))
    path = save_reader(arrays, meta, out or (multilingual_reader_path() if multilingual else reader_path()))
    figures = meta["training"]["validation"]
    click.echo(f"wrote {path}: trained on {meta['training']['rows']} labelled prompts; on the "
               f"{figures['harmful'] + figures['benign']} held out for its cut-offs "
               f"{figures['harmful_block']}/{figures['harmful']} harmful blocked, "
               f"{figures['benign_block']}/{figures['benign']} benign blocked, "
               f"{figures['benign_review']}/{figures['benign']} benign at review or more")
