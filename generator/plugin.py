"""The generator in the core's registry: its post-render integrity gate and the renderer."""

from app.domains import Domain, register
from generator.services import render
from generator.stages import MediaIntegrityStage


def _commands():
    from generator.cli import generator
    return [generator]


def _model_files():
    from dataclasses import replace

    from app.kit.media import codec_model_file
    # The renderer encodes with libx264; every scan decodes through the same libraries.
    return [replace(codec_model_file(), used_by=("generator renderer",))]


DOMAIN = register(Domain(
    name="generator",
    stages=(MediaIntegrityStage(),),
    renderer=render,
    commands=_commands,
    model_files=_model_files,
))
