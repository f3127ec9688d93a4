"""`greenlight generator ...`: training the text-to-video model and sampling from it."""

from __future__ import annotations

from pathlib import Path

import click

from app.progress import progress

DEFAULT_TRAIN_DIR = Path("instance/generator-training")


@click.group("generator")
def generator() -> None:
    """The text-to-video model: train it, sample from it."""


@generator.command("train")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_TRAIN_DIR, show_default=True,
              help="checkpoints go here and the trained pipeline into OUT/model; a run on a directory "
                   "with a checkpoint resumes it")
@click.option("--steps", default=None, type=click.IntRange(min=1), help="optimiser steps (default 4250: the shipped weights' first stage)")
@click.option("--batch", default=None, type=click.IntRange(min=1), help="clips per step (default 16)")
@click.option("--width", default=None, type=click.IntRange(min=8),
              help="UNet base channels (default 64, ~6.7 M parameters; 128 on an accelerator)")
@click.option("--size", default=None, type=click.IntRange(min=16), help="frame size in pixels (default 32)")
@click.option("--lr", default=None, type=click.FloatRange(min=0, min_open=True),
              help="learning rate (default 3e-4; a warm-started stage anneals at a lower one)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present)")
@click.option("--init", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="warm-start a new run from this saved pipeline's weights (e.g. generator/data/video_model), "
                   "with a fresh optimiser; give the stage its own --seed")
def train_command(out: Path, steps: int | None, batch: int | None, width: int | None, size: int | None,
                  lr: float | None, seed: int, device: str | None, init: Path | None) -> None:
    """Train on the synthetic set (generator/dataset.py). About 0.7 s a step on 2 CPU cores at the
    defaults; the same options and seed give the same weights."""
    from dataclasses import replace

    from generator.training import TrainConfig, train

    overrides = {k: v for k, v in {"steps": steps, "batch": batch, "width": width, "size": size,
                                        "lr": lr}.items() if v}
    config = replace(TrainConfig(), seed=seed, **overrides)
    with progress("training the video model") as report:
        try:
            model_dir = train(out, config, device=device, init=init,
                              progress=lambda done, total, loss: report(done, total, f"loss {loss:.4f}"))
        except ValueError as exc:
            raise click.ClickException(str(exc))
    click.echo(f"wrote {model_dir}")


@click.command("trace")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", default=3, show_default=True, type=click.IntRange(min=1, max=50))
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of a table")
def trace(file: Path, limit: int, as_json: bool) -> None:
    """Which generation rendered FILE (a copy re-encoded, resized, cropped or with its visible
    mark covered): the platform's bank of its own outputs, nearest first. Exit status 1 when
    nothing is within the match distance."""
    import json

    from app import runtime
    from app.kit.media import MediaError
    from generator.fingerprints import MATCH_DISTANCE
    from generator.services import trace as trace_file

    try:
        with runtime.current().db.transaction() as s:
            matches = trace_file(s, file, limit=limit)
    except MediaError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}")
    found = [m for m in matches if m.distance <= MATCH_DISTANCE]
    if as_json:
        click.echo(json.dumps({"match": found[0].generation_id if found else None, "max_distance": MATCH_DISTANCE,
                               "candidates": [m.__dict__ for m in matches]}))
    else:
        for m in matches:
            mark = "match" if m.distance <= MATCH_DISTANCE else "-"
            click.echo(f"{m.generation_id}  distance {m.distance:5.1f}  frames within {m.frames_within}/{m.frames}  {mark}")
        if not matches:
            click.echo("the bank is empty")
    if not found:
        raise SystemExit(1)


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of lines")
def verify(file: Path, as_json: bool) -> None:
    """Read FILE's marks back: the invisible watermark (which generation rendered it), the visible
    label that generation carries, and the C2PA manifest (validated against GL_C2PA_TRUST_ANCHORS).
    Exit status 1 when neither the mark nor a valid manifest leads to a generation of ours."""
    import json
    from dataclasses import asdict

    from app import runtime
    from app.kit.media import MediaError
    from generator.services import verify as verify_file

    try:
        with runtime.current().db.transaction() as s:
            found = verify_file(s, file)
    except MediaError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}")
    if as_json:
        click.echo(json.dumps(asdict(found)))
    else:
        click.echo(f"invisible watermark: {'found' if found.mark_found else 'not found'} "
                   f"(confidence {found.mark_confidence:.2f})")
        click.echo(f"generation: {found.generation_id or 'none of ours'}")
        if found.label:
            click.echo(f"visible label {found.label!r}: {'shown' if found.label_shown else 'not shown'} "
                       f"(contrast {found.label_contrast:.0f})")
        if found.manifest is None:
            click.echo("C2PA manifest: none")
        else:
            failed = f", failed: {', '.join(found.manifest_failures)}" if found.manifest_failures else ""
            click.echo(f"C2PA manifest: {found.manifest}{failed}; generation {found.manifest_generation_id}, "
                       f"made by {found.software_agent} ({found.digital_source_type}); "
                       f"{len(found.gates)} gates, {len(found.consent)} consent receipts")
    if found.generation_id is None:
        raise SystemExit(1)


@click.group("provenance")
def provenance_group() -> None:
    """The C2PA signing credential of every render."""


@provenance_group.command("init")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where to write it (default: <instance>/provenance, where renders look when GL_C2PA_CERT and GL_C2PA_KEY are unset)")
@click.option("--force", is_flag=True, help="replace an existing credential (files signed before stay valid "
                                             "only where the old CA is still trusted)")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1), help="the signer's validity")
def provenance_init(directory: Path | None, force: bool, days: int) -> None:
    """Make a development CA and a signing certificate under it (ES256). For one machine only:
    a published service signs with a certificate from a CA its verifiers trust (GL_C2PA_CERT/KEY)."""
    from generator.provenance import ProvenanceError, default_dir, init

    try:
        cred = init(directory or default_dir(), force=force, days=days)
    except ProvenanceError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"signing chain {cred.chain}\nprivate key   {cred.key} (0600)\ntrust anchor  {cred.trust}")
