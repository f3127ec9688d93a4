"""Copyright in the core's registry: its gates, API, `works` commands, the takedown that keeps a
video unpublished, how dispute and claim-review cases are decided, and the rightsholder portal's service."""

from app.domains import Domain, register
from app.interfaces import RightsPortal
from copyright import models  # noqa: F401  (its tables join the shared metadata)
from copyright.claims import refuse_publishing_under_takedown
from copyright.claim_reviews import ClaimReviewHandler
from copyright.disputes import DisputeHandler
from copyright.ledger_chain import CHAIN as LEDGER_CHAIN
from copyright.stages import COPYRIGHT_KEYWORDS, IP_INFRINGEMENT, RenderedWorksStage, RightsStage


def _blueprints():
    from copyright.api import bp
    return [bp]


def _commands():
    from copyright.cli import ledger, works
    return [works, ledger]


def _portal():
    from copyright.portal import Portal
    return Portal()


def _model_files():
    from app.kit.image_embedding import image_embedder_model_file
    from app.kit.text_embedding import text_embedder_model_file
    from copyright.work_facts import work_facts_model_file
    from copyright.work_head import work_head_model_file
    image = image_embedder_model_file()
    return [text_embedder_model_file(), work_head_model_file(), work_facts_model_file(),
            *([image] if image is not None else [])]


DOMAIN = register(Domain(
    name="copyright",
    stages=(RightsStage(), RenderedWorksStage()),
    blueprints=_blueprints,
    commands=_commands,
    model_files=_model_files,
    publish_checks=(refuse_publishing_under_takedown,),
    dsa_categories={"copyright.claim": (IP_INFRINGEMENT, COPYRIGHT_KEYWORDS)},
    case_kinds={"dispute": DisputeHandler(), "claim_review": ClaimReviewHandler()},
    policy_dsa_categories={"COPYRIGHT-INFRINGEMENT": (IP_INFRINGEMENT, COPYRIGHT_KEYWORDS)},
    services={RightsPortal: _portal},
    chains=(LEDGER_CHAIN,),
    policy_codes={
        "COPYRIGHT-INFRINGEMENT": "Uses a protected work without the rightsholder's permission",
        "COPYRIGHT-LICENSED": "The use is licensed or the rightsholder allows it",
        "COPYRIGHT-EXCEPTION": "An exception applies (quotation, parody, pastiche, criticism)",
        "COPYRIGHT-NO-MATCH": "The video does not use the claimed work",
    },
))
