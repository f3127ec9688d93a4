"""The generator in the core's registry: the renderer, its post-render stages (integrity, the
output bank), its commands (`generator`, `trace`, `verify`, `provenance`) and the admin API that traces a copy."""

from app.domains import Domain, register
from generator import models  # noqa: F401  (its tables join the shared metadata)
from generator.services import render
from generator.stages import FingerprintStage, MediaIntegrityStage


def _commands():
    from generator.cli import generator, provenance_group, trace, verify
    return [generator, trace, verify, provenance_group]


def _blueprints():
    from generator.api import bp
    return [bp]


def _model_files():
    from dataclasses import replace

    from app.kit.media import codec_model_file
    from generator.model_files import video_model_file
    # The renderer encodes with libx264; every scan decodes through the same libraries.
    return [replace(codec_model_file(), used_by=("generator renderer",)), video_model_file()]


DOMAIN = register(Domain(
    name="generator",
    stages=(MediaIntegrityStage(), FingerprintStage()),
    renderer=render,
    commands=_commands,
    blueprints=_blueprints,
    model_files=_model_files,
))
