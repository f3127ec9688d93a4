"""Operator commands of the likeness domain: `greenlight likeness ...` (and, as before, `greenlight figures ...`
and `greenlight keys ...`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app import runtime
from app.progress import progress


def _rt() -> runtime.Runtime:
    return runtime.current()


@click.group()
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
    with progress("enrolling figure faces") as report_progress, _rt().db.transaction() as s:
        report = enrol_gallery(s, gallery, models, load_figures(), actor="system:cli", progress=report_progress)
    for fig in report.figures:
        problems = ", ".join(f"{name}: {code}" for name, code in fig.problems)
        click.echo(f"{fig.figure_id}: {fig.used}/{fig.photos} photos used" + (f" ({problems})" if problems else ""))
    for name in report.unknown:
        click.echo(f"{name}: not in the public-figure list, skipped", err=True)
    click.echo(f"{report.enrolled} figures enrolled with model {models.version}")
    if report.enrolled == 0:
        sys.exit(1)


@figures.command("train-head")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the head (default: the shipped likeness/data/figure_head.safetensors)")
@click.option("--rows", "rows_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="training prompts (default: likeness/data/figure_training.jsonl)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--steps", default=None, type=click.IntRange(min=1), help="optimiser steps (default 400)")
@click.option("--version", "version", default=None, help="the head's version (default: today's date)")
def figures_train_head(out: Path | None, rows_path: Path | None, seed: int, steps: int | None,
                       version: str | None) -> None:
    """Train the public-figure gate's figure head on prompts that describe listed people without
    naming them, on the list's descriptions, and on prompts about nobody listed (about 5 minutes
    on 2 cores)."""
    from datetime import date

    from app.config import setting
    from app.kit.text_embedding import load_text_embedder
    from likeness.figure_head import head_path, save_head
    from likeness.figure_head_training import STEPS, TRAINING_ROWS, read_rows, train
    from likeness.figures import DEFAULT_FIGURES, FigureList, raw_descriptions

    try:
        rows = read_rows(rows_path or TRAINING_ROWS)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc))
    listed = Path(setting("GL_PUBLIC_FIGURES") or DEFAULT_FIGURES)
    descriptions = raw_descriptions(listed)
    unknown = sorted({r.figure_id for r in rows if r.figure_id} - {f.id for f in FigureList.from_file(listed).figures})
    if unknown:
        raise click.ClickException(f"training rows name people the list lacks: {unknown[:5]}")
    with progress("training the figure head") as report:
        head = train(rows, descriptions, load_text_embedder(), version=version or date.today().isoformat(),
                     seed=seed, steps=steps or STEPS, progress=report)
    path = save_head(out or head_path(), head)
    t = head.training
    click.echo(f"wrote {path}: {len(head.figures)} people, trained on {t['rows']} prompts and {t['descriptions']} "
               f"descriptions; cut-offs {head.cutoffs.tag()} chosen on {t['validation_rows']} kept back: "
               f"{t['validation_blocked_right']}/{t['validation_described']} described prompts blocked as their "
               f"person, {t['validation_blocked_other_person']} as another, {t['validation_reviewed']} reviewed; "
               f"of {t['validation_others']} prompts about nobody listed, {t['validation_others_blocked']} blocked "
               f"and {t['validation_others_reviewed']} reviewed")


@figures.command("verify-account")
@click.argument("cameo_id")
@click.argument("figure_id", required=False)
@click.option("--reason", required=True, help="the evidence that the account is that person's (audited)")
@click.option("--withdraw", is_flag=True, help="withdraw the finding instead (no FIGURE_ID)")
def figures_verify_account(cameo_id: str, figure_id: str | None, reason: str, withdraw: bool) -> None:
    """Mark the account owning CAMEO_ID as public figure FIGURE_ID's own: it may then enrol that face
    into the cameo, and a reviewer confirms the enrolment (others' enrolments of the face stay refused)."""
    from app.errors import GreenlightError
    from likeness.enrolment import verify_figure_account

    if withdraw == (figure_id is not None):
        raise click.UsageError("give FIGURE_ID, or --withdraw without one")
    try:
        with _rt().db.transaction() as s:
            cameo = verify_figure_account(s, cameo_id, figure_id, actor="system:cli", reason=reason)
            owner = cameo.owner_id
    except GreenlightError as exc:
        click.echo(f"error: {exc.code}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"cameo {cameo_id} (account {owner}): " +
               (f"verified as {figure_id}" if figure_id else "no longer verified as a public figure"))


@click.group()
def keys() -> None:
    """Encryption keys for face templates."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every face template and face crop under a new key (file keyring) or under the first
    key of GL_TEMPLATE_KEYS (environment keyring: put the new key first, keep the old one until done)."""
    from likeness import templates

    ring = templates.keyring()
    from_env = ring.path is None
    with progress("re-encrypting templates and face crops") as report, _rt().db.transaction() as s:
        n = templates.rotate(s, ring, new_key=not from_env, progress=report)
    if not from_env:
        ring.retire_all_but_active()
        ring.save()
    click.echo(f"{n['templates']} templates and {n['crops']} face crops now under key {ring.active}")


@click.group()
def likeness() -> None:
    """Cameos' and public figures' faces: the figure gallery, template keys, face-model swaps."""


likeness.add_command(figures)
likeness.add_command(keys)


@likeness.command("re-embed")
def likeness_re_embed() -> None:
    """Move every cameo and figure template to the current face model (GL_FACE_DETECTOR,
    GL_FACE_EMBEDDER, GL_FACE_EMBEDDER_KIND) from the stored face crops. Safe to run again: what
    is already under the model is left alone. Exits 1 while some templates could not be moved."""
    from likeness import templates
    from likeness.faces import load_face_models
    from likeness.reembed import re_embed

    models = load_face_models()
    with progress(f"re-embedding under {models.version}") as report_progress:
        report = re_embed(_rt().db, models, templates.keyring(), progress=report_progress)
    moved, current = report.moved, report.already_current
    click.echo(f"moved {moved['cameo']} cameo and {moved['figure']} figure templates to {models.version}; "
               f"{current['cameo']} cameo and {current['figure']} figure templates were already under it")
    if report.unreadable_crops:
        click.echo(f"{report.unreadable_crops} face crops could not be opened and were skipped "
                   "(see `greenlight likeness check`)", err=True)
    advice = {("cameo", "no_crops"): "enrolled before face crops were kept: its owner was notified to delete it "
                                      "and enrol again",
              ("figure", "no_crops"): "enrolled before face crops were kept: run `greenlight figures enrol-faces "
                                       "GALLERY` again",
              ("cameo", "crops_unreadable"): "no face crop could be opened: fix the keyring "
                                              "(`greenlight likeness check`)",
              ("figure", "crops_unreadable"): "no face crop could be opened: fix the keyring "
                                               "(`greenlight likeness check`)"}
    for item in report.unmoved:
        click.echo(f"not moved: {item.kind} {item.key}: {advice[(item.kind, item.why)]}", err=True)
    if not report.complete:
        click.echo(f"{len(report.unmoved)} templates are still under another model: until they are moved or "
                   "deleted, generations showing faces go to review (face_index_incomplete)", err=True)
        sys.exit(1)


@likeness.command("check")
def likeness_check() -> None:
    """Open every stored template and face crop: counts per face model, unreadable rows, keys.
    Exits 1 when something needs an operator (a missing key, an unreadable row, templates under
    another model than the current one)."""
    from likeness import health, templates
    from likeness.crypto import KeyringError
    from likeness.faces import load_face_models

    rt, models = _rt(), load_face_models()
    problems = health.startup_problems(rt)
    try:
        ring = templates.existing_keyring(rt.config.instance_dir)
    except KeyringError as exc:
        raise click.ClickException(f"the template keyring cannot be read: {exc}") from None
    with rt.db.transaction() as s:
        found = health.census(s, ring) if ring is not None else health.Census()
    click.echo(f"face model: {models.version}")
    click.echo(f"keyring: {ring.source if ring else 'none'} ({', '.join(sorted(ring.keys)) if ring else 'no keys'})")
    for (table, version), n in sorted(found.templates.items()):
        click.echo(f"{table}: {n} under {version}" + (" (current)" if version == models.version else ""))
    click.echo(f"face crops: {found.crops['cameo']} of cameos, {found.crops['figure']} of figures")
    for table, key, kid in found.unreadable:
        click.echo(f"unreadable: {table} {key} (key {kid})", err=True)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    behind = found.not_under(models.version)
    if behind:
        click.echo(f"{behind} templates are under another face model: run `greenlight likeness re-embed`", err=True)
    if problems or found.unreadable or behind:
        sys.exit(1)
    click.echo("all face templates and crops open, all under the current face model")
