"""Where the renderer's model lives and its record in the model registry (app/model_files.py),
without importing torch: the registry is read at start-up and by `greenlight models list`."""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED_MODEL = Path(__file__).parent / "data" / "video_model"


def default_model_dir() -> Path:
    """GL_GENERATOR_MODEL when an operator names another diffusers directory, else ours."""
    from app.config import setting
    return Path(setting("GL_GENERATOR_MODEL") or SHIPPED_MODEL)


def _load(directory: Path):
    from generator.video_model import load_pipeline
    return load_pipeline(directory)


def video_model_file(path: str | os.PathLike[str] | None = None):
    """The record of the renderer's pipeline: ours, trained here (its hash is read from the files),
    or the directory an operator names in GL_GENERATOR_MODEL."""
    from app.model_files import LicenceClass, ModelFile, configured, installed_version, is_shipped, value_of

    used_by = ("generator renderer",)
    shipped = ModelFile(
        name="video-model", role="text-to-video diffusion pipeline", path=SHIPPED_MODEL, version="greenlight-video",
        licence="Apache-2.0", licence_class=LicenceClass.PERMISSIVE, source="greenlight",
        source_version=installed_version("greenlight"), variable="GL_GENERATOR_MODEL", load=_load,
        licence_note="ours: `greenlight generator train` on generator/dataset.py's synthetic clips", used_by=used_by)
    chosen = value_of("GL_GENERATOR_MODEL", path)
    if is_shipped(chosen, shipped):
        return shipped
    return configured("video-model", shipped.role, chosen, variable="GL_GENERATOR_MODEL",
                      version=f"video-model-{Path(chosen).name}", load=_load, used_by=used_by)
