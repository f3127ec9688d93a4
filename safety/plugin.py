"""Safety in the core's registry: its gates, API, operator commands (`banks`, `policy`)."""

from app.domains import Domain, register
from safety import models  # noqa: F401  (its tables join the shared metadata)
from safety.stages import (
    AudioSafetyStage, FrameSafetyStage, HashBankStage, InputImageSafetyStage, PromptSafetyStage,
)


def _blueprints():
    from safety.api import bp
    return [bp]


def _commands():
    from safety.cli import banks, policy
    return [banks, policy]


DOMAIN = register(Domain(
    name="safety",
    stages=(PromptSafetyStage(), InputImageSafetyStage(), HashBankStage(rendered=False),
            HashBankStage(rendered=True), FrameSafetyStage(), AudioSafetyStage()),
    blueprints=_blueprints,
    commands=_commands,
))
