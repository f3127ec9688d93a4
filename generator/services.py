"""What the generator offers the core: render a greenlit request to an MP4 file."""

from __future__ import annotations

import os

from generator import procedural
from generator.procedural import RenderResult, RenderSpec


def render(prompt: str, out_path: str | os.PathLike[str], *, seed: int, fps: int, seconds: float,
           watermark: str) -> RenderResult:
    """The renderer the orchestrator calls (app.domains.renderer): atomic, same file on every retry."""
    return procedural.render_to_mp4(prompt, out_path, seed=seed, spec=RenderSpec(fps=fps, seconds=seconds, watermark=watermark))
