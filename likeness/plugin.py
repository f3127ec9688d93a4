"""Likeness in the core's registry: its gates, API, operator commands (`likeness`, and the
older `figures` and `keys`), cameo owners as co-owners, consent checked again at publishing, and
a start-up check that stored faces open with the keyring."""

from app.domains import Domain, register
from app.interfaces import CameoFaces, CameoOwnerPage, ConsentReceipts, LikenessComplaints
from likeness import models  # noqa: F401  (its tables join the shared metadata)
from likeness.complaint_cases import KIND as COMPLAINT, LikenessComplaintHandler, refuse_publishing_under_complaint
from likeness.enrolment_cases import KIND as ENROLMENT, EnrolmentHandler
from likeness.health import startup_problems
from likeness.services import is_co_owner, refuse_publishing_without_consent
from likeness.stages import (
    DEEPFAKE, NON_CONSENSUAL, CameoConsentStage, FaceScanStage, InputFacesStage, NamedCameoStage, PublicFigureStage,
)


def _blueprints():
    from likeness.api import bp
    return [bp]


def _commands():
    from likeness.cli import figures, keys, likeness
    return [likeness, figures, keys]


def _seed_demo(session, users):
    from likeness.enrolment import seed_demo_cameos  # the face models load only when the demo is seeded
    return seed_demo_cameos(session, users)


def _owner_page():
    from likeness.owner_page import OwnerPage
    return OwnerPage()


def _complaints():
    from likeness.complaints import Complaints
    return Complaints()


def _receipts():
    from likeness.render_inputs import Receipts
    return Receipts()


def _faces():
    from likeness.render_inputs import Faces
    return Faces()


def _model_files():
    from dataclasses import replace

    from app.kit.speech import speech_model_file
    from app.kit.text_embedding import text_embedder_model_file
    from likeness.faces import face_model_files
    from likeness.figure_head import figure_head_model_file
    # Enrolment's liveness check hears the spoken digits through the shared transcriber; the
    # public-figure gate's head reads the shared text embedder's vectors.
    return [*face_model_files(), replace(speech_model_file(), used_by=("likeness enrolment (spoken digits)",)),
            text_embedder_model_file(), figure_head_model_file()]


DOMAIN = register(Domain(
    name="likeness",
    stages=(CameoConsentStage(), InputFacesStage(), NamedCameoStage(), PublicFigureStage(), FaceScanStage()),
    blueprints=_blueprints,
    commands=_commands,
    model_files=_model_files,
    publish_checks=(refuse_publishing_without_consent, refuse_publishing_under_complaint),
    co_owners=(is_co_owner,),
    startup_checks=(startup_problems,),
    # A consent withdrawn, a co-owner's deletion, a depicted person's complaint: decisions about a
    # person's likeness.
    dsa_categories={"likeness.consent": (NON_CONSENSUAL, DEEPFAKE), "likeness.co_owner": (NON_CONSENSUAL, DEEPFAKE),
                    "likeness.complaint": (NON_CONSENSUAL, DEEPFAKE)},
    demo=_seed_demo,
    # "This video shows me": the person shown complains; a reviewer upholds (block) or rejects (allow).
    services={CameoOwnerPage: _owner_page, LikenessComplaints: _complaints, ConsentReceipts: _receipts,
              CameoFaces: _faces},
    # A face enrolled that matches another account's cameo: a reviewer allows or blocks the enrolment.
    case_kinds={COMPLAINT: LikenessComplaintHandler(), ENROLMENT: EnrolmentHandler()},
    policy_codes={
        "LIKENESS-NO-CONSENT": "Shows a real person who did not consent",
        "LIKENESS-PUBLIC-FIGURE": "Depicts a public figure who has not enrolled",
        "LIKENESS-IMPERSONATION": "Impersonates or deceives about a real person",
        "LIKENESS-CONSENTED": "Everyone shown consented",
        "LIKENESS-NOT-THE-PERSON": "The person shown is not the complainant",
    },
    # A real person's likeness used without their consent: a non-consensual deepfake.
    policy_dsa_categories={code: (NON_CONSENSUAL, DEEPFAKE) for code in
                           ("LIKENESS-NO-CONSENT", "LIKENESS-PUBLIC-FIGURE", "LIKENESS-IMPERSONATION")},
))
