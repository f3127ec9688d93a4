"""The generator in the core's registry: its post-render integrity gate and the renderer."""

from app.domains import Domain, register
from generator.services import render
from generator.stages import MediaIntegrityStage

DOMAIN = register(Domain(
    name="generator",
    stages=(MediaIntegrityStage(),),
    renderer=render,
))
