"""What the generator offers the core and the operators: render a greenlit request to an MP4
file; bank every output's fingerprints; trace a copy back to its generation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import setting
from app.interfaces import RenderRequest
from generator.fingerprints import FRAMES_PER_SECOND, FramePrint, TraceMatch, frame_prints, rank
from generator.models import OutputFingerprint


def render(requests: Sequence[RenderRequest]) -> list:
    """The renderer the orchestrator calls (app.interfaces.Renderer): each file atomic and the same
    on every retry (the seed fixes the model's noise); several requests are sampled as one batch.
    torch and diffusers load here, on the first render, not when the plugin registers."""
    from generator import render as model_render
    from generator.render import RenderJob, RenderSettings

    steps, guidance = setting("GL_GENERATOR_STEPS"), setting("GL_GENERATOR_GUIDANCE")
    return model_render.render_batch([RenderJob(r.prompt, Path(r.out_path), r.seed, RenderSettings(
        fps=r.fps, seconds=r.seconds, watermark=r.watermark, generation_id=r.generation_id, provenance=r.provenance,
        faces=tuple(r.faces), lineage=tuple(tuple(step) for step in r.lineage), input_image=r.input_image,
        steps=steps, guidance=guidance)) for r in requests])


def bank_fingerprints(session: Session, generation_id: str, prints: list[FramePrint]) -> None:
    """Replace the generation's fingerprints with these (a re-scan of a re-render banks it once)."""
    for old in session.scalars(select(OutputFingerprint).where(OutputFingerprint.generation_id == generation_id)):
        session.delete(old)
    session.add_all(OutputFingerprint(generation_id=generation_id, at_s=p.at_s, view=p.view, pdq=p.as_bytes(),
                                      quality=p.quality) for p in prints)


def video_prints(path: Path) -> list[FramePrint]:
    """The fingerprints of any video file, as the bank holds them. Raises app.kit.media.MediaError."""
    from app.kit.media import sample_frames
    return frame_prints(sample_frames(path, per_second=FRAMES_PER_SECOND))


def trace(session: Session, path: Path, limit: int = 5) -> list[TraceMatch]:
    """The generations whose renders are nearest to the video at `path`, nearest first.

    Reads the whole bank per query: fine for one machine's outputs; past a few million frames
    it wants the FAISS binary index the hash banks use (safety/hashbanks.py)."""
    stored = session.execute(select(OutputFingerprint.generation_id, OutputFingerprint.at_s,
                                    OutputFingerprint.pdq)).all()
    return rank(video_prints(path), [(g, t, bytes(h)) for g, t, h in stored], limit=limit)


@dataclass(frozen=True)
class Verification:
    generation_id: str | None  # the generation the invisible mark names, if it is ours
    mark_found: bool           # the payload decoded and its CRC held
    mark_confidence: float
    label: str | None          # the visible label that generation was rendered with
    label_shown: bool          # ... and it is on screen
    label_contrast: float
    manifest: str | None       # C2PA: None (no manifest), Invalid, Valid (signature) or Trusted (and its CA)
    manifest_failures: list[str]
    manifest_generation_id: str | None  # the generation the manifest names
    software_agent: str | None          # the model it states
    digital_source_type: str | None
    gates: list[dict]                   # the policies applied, as the manifest states them
    consent: list[dict]                 # its consent receipts


def verify(session: Session, path: Path) -> Verification:
    """Read the file's marks and manifest back and name the generation they lead to: the
    invisible mark's, else the manifest's (a manifest that does not validate names nothing)."""
    from app.models import Generation
    from app.generations import visible_label
    from generator.verify import LABEL_CONTRAST, label_contrast, read_marks

    from generator import provenance

    marks = read_marks(path)
    signed = provenance.read(path)
    created = next((a for a in (signed.assertion("c2pa.actions.v2") or {}).get("actions", [])
                    if a.get("action") == "c2pa.created"), {})
    prefix = marks.invisible.id_prefix
    gen = None
    if prefix is not None:
        pattern = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:]}%"
        gen = session.scalars(select(Generation).where(Generation.id.like(pattern))).first()
    if gen is None and signed.state in ("Valid", "Trusted"):
        named = (signed.assertion(provenance.GENERATION_LABEL) or {}).get("generation_id")
        gen = session.get(Generation, named) if named else None
    label = visible_label(gen.owner.handle) if gen is not None else None
    contrast = label_contrast(path, label) if label else 0.0
    return Verification(generation_id=gen.id if gen else None, mark_found=prefix is not None,
                        mark_confidence=round(marks.invisible.confidence, 3), label=label,
                        label_shown=contrast >= LABEL_CONTRAST, label_contrast=round(contrast, 1),
                        manifest=signed.state, manifest_failures=signed.failures,
                        manifest_generation_id=(signed.assertion(provenance.GENERATION_LABEL) or {}).get("generation_id"),
                        software_agent=(created.get("softwareAgent") or {}).get("version"),
                        digital_source_type=created.get("digitalSourceType"),
                        gates=(signed.assertion(provenance.POLICIES_LABEL) or {}).get("gates", []),
                        consent=(signed.assertion(provenance.CONSENT_LABEL) or {}).get("cameos", []))
