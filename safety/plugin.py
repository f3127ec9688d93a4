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


def _model_files():
    from app.kit.multilingual_embedding import multilingual_embedder_model_file
    from app.kit.speech import speech_model_file
    from app.kit.text_embedding import text_embedder_model_file
    from safety.audio import vad_model_file
    from safety.frames import nudity_model_file
    from safety.prompt_head import multilingual_head_model_file, prompt_head_model_file
    from safety.prompt_reader import multilingual_reader_model_file, prompt_reader_model_file
    return [text_embedder_model_file(), prompt_head_model_file(), prompt_reader_model_file(),
            multilingual_embedder_model_file(), multilingual_head_model_file(), multilingual_reader_model_file(),
            nudity_model_file(), vad_model_file(), speech_model_file()]


DOMAIN = register(Domain(
    name="safety",
    stages=(PromptSafetyStage(), InputImageSafetyStage(), HashBankStage(rendered=False),
            HashBankStage(rendered=True), FrameSafetyStage(), AudioSafetyStage()),
    blueprints=_blueprints,
    commands=_commands,
    model_files=_model_files,
    policy_codes={
        "SAFETY-SEXUAL": "Sexual content or nudity",
        "SAFETY-MINORS": "Sexualisation or endangerment of minors",
        "SAFETY-VIOLENCE": "Graphic violence or threats",
        "SAFETY-SELF-HARM": "Suicide, self-harm or eating disorders",
        "SAFETY-HATE": "Hate speech, hateful symbols or harassment",
        "SAFETY-EXTREMISM": "Violent extremism or terrorism",
        "SAFETY-DANGEROUS": "Dangerous acts, weapons or illegal goods",
        "SAFETY-HASH-MATCH": "Matches a known-harmful hash bank",
    },
    # What a reviewer's block under each code is stated as (the DSA database's current schema);
    # a hash-bank match is stated as its bank's category.
    policy_dsa_categories={
        "SAFETY-SEXUAL": ("STATEMENT_CATEGORY_OTHER_VIOLATION_TC", ("KEYWORD_ADULT_SEXUAL_MATERIAL",)),
        "SAFETY-MINORS": ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", ()),
        "SAFETY-VIOLENCE": ("STATEMENT_CATEGORY_VIOLENCE", ()),
        "SAFETY-SELF-HARM": ("STATEMENT_CATEGORY_SELF_HARM", ()),
        "SAFETY-HATE": ("STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", ()),
        "SAFETY-EXTREMISM": ("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", ("KEYWORD_TERRORIST_CONTENT",)),
        "SAFETY-DANGEROUS": ("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", ()),
    },
))
