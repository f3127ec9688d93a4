"""Likeness gates: consent for every requested cameo, and no public figure without consent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from app.config import setting
from app.models import User
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from app.kit.textmatch import tokens
from likeness.figures import MATCHING, FigureList, load_figures
from likeness.models import Cameo, CameoStatus
from likeness.names import MAX_NAME_WORDS, MIN_NAME_WORDS, matched_by_name
from likeness.services import (
    input_image_cameos, permission_denial, record_appearance, remix_cameos, usable_figure_cameos,
)

# What a likeness block is, stated for the DSA transparency database (current schema: the
# non-consensual deepfake keyword specifies cyber violence).
NON_CONSENSUAL = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
DEEPFAKE = ("KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",)

_DENIAL_MESSAGES = {
    "cameo_not_found": "a requested cameo does not exist",
    "cameo_revoked": "a requested cameo was revoked by its owner",
    "cameo_not_enrolled": "a requested cameo has no enrolled, verified face yet",
    "cameo_not_permitted": "the owner of a requested cameo does not allow you to use it",
    "cameo_owner_minor": "a requested cameo belongs to a minor, whom an adult account may not put on screen",
}


class CameoConsentStage(Stage):
    """Every cameo in the request, and every cameo on screen in the remix parent, is active and
    allows the requester. Runs again after rendering: consent revoked meanwhile blocks."""
    dsa_category, dsa_keywords = NON_CONSENSUAL, DEEPFAKE

    name = "likeness.cameo_consent"
    produces = ("people.cameos",)  # how many enrolled people the video shows by request or remix
    version = "permissions-3"  # 3: a minor's cameo is refused to adults

    def check(self, ctx: StageContext) -> Verdict:
        # Faces of an input image are recorded as appearances; without one there are none to read.
        from_image = input_image_cameos(ctx.session, ctx.generation_id) if ctx.input_image_path is not None else []
        carried = {cid: "input_image" for cid in from_image}
        carried |= {cid: "remix_of" for cid in remix_cameos(ctx.session, ctx.remix_of)}
        inherited = [cid for cid in carried if cid not in ctx.cameo_ids]
        wanted = [*ctx.cameo_ids, *inherited]
        if not wanted:
            verdict = Verdict.allow()
            verdict.facts["people.cameos"] = 0
            return verdict
        cameos = {c.id: c for c in ctx.session.scalars(select(Cameo).where(Cameo.id.in_(wanted)))}
        findings = []
        for cameo_id in wanted:
            denial = permission_denial(ctx.session, cameos.get(cameo_id), ctx.requester.id)
            if denial:
                # Not-found and not-permitted read the same to the requester: no probing for cameos.
                code = "cameo_not_permitted" if denial == "cameo_not_found" else denial
                details = {"cameo_id": cameo_id} | ({"via": carried[cameo_id]} if cameo_id in inherited else {})
                findings.append((Decision.BLOCK, Reason(code, _DENIAL_MESSAGES[denial], details)))
        verdict = Verdict.worst(findings, {"cameos_checked": float(len(wanted))})
        verdict.evidence["existing"] = [cid for cid in ctx.cameo_ids if cid in cameos]
        verdict.evidence["inherited"] = [cid for cid in inherited if cid in cameos and carried[cid] == "remix_of"]
        verdict.facts["people.cameos"] = len(cameos)
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        # Cameos make their owners co-owners of the generation (and reach it on revocation).
        for cameo_id in verdict.evidence.get("existing", []):
            record_appearance(ctx.session, ctx.generation_id, cameo_id, "declared")
        for cameo_id in verdict.evidence.get("inherited", []):
            record_appearance(ctx.session, ctx.generation_id, cameo_id, "remixed")


class PublicFigureStage(Stage):
    dsa_category, dsa_keywords = NON_CONSENSUAL, DEEPFAKE
    name = "likeness.public_figures"
    models = ("text-embedder", "figure-head")

    def __init__(self, figures: FigureList | None = None):
        self._figures = figures

    @property
    def figures(self) -> FigureList:
        if self._figures is None:
            self._figures = load_figures()
        return self._figures

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"figures-{MATCHING}:{self.figures.version}"

    def check(self, ctx: StageContext) -> Verdict:
        refs = self.figures.find(ctx.prompt)
        consented = usable_figure_cameos(ctx.session, {r.figure.id for r in refs}, ctx.cameo_ids, ctx.requester.id)
        findings = [
            (ref.decision, Reason(
                "public_figure" if ref.decision == Decision.BLOCK else "possible_public_figure",
                f"the prompt refers to {ref.figure.name}, who has not consented through a cameo",
                {"figure_id": ref.figure.id, "name": ref.figure.name, "matched_by": ref.via}))
            for ref in refs if ref.figure.id not in consented
        ]
        return Verdict.worst(findings, {"figures_matched": float(len(refs))})


_MENTION = re.compile(r"@([A-Za-z0-9_]{3,32})")


class NamedCameoStage(Stage):
    """A prompt that names an enrolled person must use that person's cameo: naming them is asking
    for their likeness. Named means an @handle (always), or a display name likeness/names.py says
    stands for a person: two to four words, not all of them ordinary words ("Maria Lopez", not
    "Sea Turtle" or the one-word "Alice"). Only active cameos count: an unenrolled or revoked one
    (no verified face behind it) protects no name, so nobody can squat a phrase."""
    dsa_category, dsa_keywords = NON_CONSENSUAL, DEEPFAKE

    name = "likeness.named_cameos"
    version = "mentions-2"

    def check(self, ctx: StageContext) -> Verdict:
        session = ctx.session
        handles = {h.lower() for h in _MENTION.findall(ctx.prompt)}
        words = tokens(ctx.prompt)
        phrases = {" ".join(words[i:i + n]) for n in range(MIN_NAME_WORDS, MAX_NAME_WORDS + 1)
                   for i in range(len(words) - n + 1)}
        if not handles and not phrases:
            return Verdict.allow()
        active = Cameo.status == CameoStatus.ACTIVE.value
        named: dict[str, tuple[str, str]] = {}
        if handles:
            rows = session.execute(select(Cameo.owner_id, User.handle).join(User, User.id == Cameo.owner_id)
                                   .where(User.handle.in_(handles), active))
            named |= {owner: ("handle", f"@{handle}") for owner, handle in rows}
        if phrases:
            rows = session.execute(select(Cameo.owner_id, Cameo.display_name)
                                   .where(func.lower(Cameo.display_name).in_(phrases), active))
            named |= {owner: ("display_name", name) for owner, name in rows
                      if owner not in named and matched_by_name(name)}
        if not named:
            return Verdict.allow()
        used_owners = set(session.scalars(select(Cameo.owner_id).where(Cameo.id.in_(ctx.cameo_ids)))) \
            if ctx.cameo_ids else set()
        findings = [
            (Decision.BLOCK, Reason("named_person_without_cameo",
                                    f"the prompt names {label}, an enrolled person, without using their cameo",
                                    {"matched_by": via, "name": label}))
            for owner, (via, label) in named.items()
            if owner not in used_owners and owner != ctx.requester.id
        ]
        return Verdict.worst(findings, {"named_people": float(len(named))})


class _FaceStage(Stage):
    """A stage that looks at faces: the models load on first use (a gate with no image or video
    to look at never pays for them), from the one process-wide cache, so the stage and the
    matchers always speak of the same model; until then its version names them from their records."""

    models = ("face-detector", "face-embedder")

    def __init__(self, face_models=None):
        self._face_models = face_models

    @property
    def face_models(self):
        if self._face_models is not None:
            return self._face_models
        from likeness.faces import load_face_models
        return load_face_models()

    @property
    def models_version(self) -> str:
        from likeness.faces import face_models_version

        loaded = self._face_models
        return loaded.version if loaded is not None else face_models_version()


def _index_gap(cameos, figures) -> Reason | None:
    """Why a face cannot be cleared while some enrolled faces are not searchable: templates under
    another face model (until `greenlight likeness re-embed`), or templates that cannot be opened.
    Such a face might be one of them, so it goes to a person, never through."""
    if not cameos.missing and not figures.missing:
        return None
    return Reason("face_index_incomplete",
                  "some enrolled faces cannot be searched with the current face model, so a face on screen "
                  "cannot be cleared",
                  {"model": cameos.model_version, "cameos_missing": cameos.other_model,
                   "figures_missing": figures.other_model,
                   "unreadable": len(cameos.unreadable) + len(figures.unreadable)})


class InputFacesStage(_FaceStage):
    """Image-to-video: every face in the input image must be an enrolled cameo that allows the
    requester. A real face that matches no cameo cannot have consented; a public figure needs
    their own consenting cameo in the request."""
    dsa_category, dsa_keywords = NON_CONSENSUAL, DEEPFAKE

    name = "likeness.input_faces"

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"input-3:{self.models_version}"

    def check(self, ctx: StageContext) -> Verdict:
        from likeness.faces import FaceQualityError, decode_image
        from likeness.matching import figure_matcher, matcher

        if ctx.input_image_path is None:
            return Verdict.allow()
        try:
            image = decode_image(ctx.input_image_path.read_bytes())
        except (OSError, FaceQualityError) as exc:
            return Verdict.block(Reason("input_image_unreadable", f"the input image cannot be read: {exc}"))
        models = self.face_models
        faces = models.analyze(image)
        if not faces:
            return Verdict.allow({"faces": 0.0})
        cameo_gallery = matcher().gallery(ctx.session, models)
        gap = _index_gap(cameo_gallery, figure_matcher().gallery(ctx.session, models))
        findings, matched = [], []
        if gap:
            findings.append((Decision.REVIEW, gap))
        for face in faces:
            box = [round(v) for v in face.face.box]
            hits = matcher().identify(ctx.session, models, face.embedding, k=1)
            if hits:
                denial = permission_denial(ctx.session, ctx.session.get(Cameo, hits[0].key), ctx.requester.id)
                if denial:
                    code = "cameo_not_permitted" if denial == "cameo_not_found" else denial
                    findings.append((Decision.BLOCK, Reason(code, _DENIAL_MESSAGES[denial],
                                                            {"cameo_id": hits[0].key, "via": "input_image"})))
                else:
                    matched.append(hits[0].key)
                continue
            figures = figure_matcher().identify(ctx.session, models, face.embedding, k=1)
            if figures and figures[0].key in usable_figure_cameos(ctx.session, {figures[0].key}, ctx.cameo_ids,
                                                                   ctx.requester.id):
                continue
            if figures:
                findings.append((Decision.BLOCK, Reason("public_figure_face", "the input image shows a public figure",
                                                        {"figure_id": figures[0].key, "box": box})))
            elif not gap:  # with a gap, the face may be an enrolled person the index cannot see: review
                findings.append((Decision.BLOCK, Reason(
                    "unconsented_face", "the input image shows a person with no cameo: they cannot have consented",
                    {"box": box})))
        verdict = Verdict.worst(findings, {"faces": float(len(faces))})
        verdict.evidence["matched"] = matched
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        for cameo_id in verdict.evidence.get("matched", []):
            record_appearance(ctx.session, ctx.generation_id, cameo_id, "input")


def _keep_best(best: dict[str, tuple[float, float]], hits, t: float) -> None:
    if hits and (hits[0].key not in best or hits[0].score > best[hits[0].key][0]):
        best[hits[0].key] = (hits[0].score, t)


@dataclass(frozen=True)
class FaceScanPolicy:
    """What a face found after rendering does to the video. Defaults hold hard (block); a
    platform that prefers a human look first sets review. Faces scoring within `near_margin`
    below the same-person threshold of an enrolled cameo go to review: look-alikes and poor
    renders sit there, and a person's consent is not left to a rounding error."""

    undeclared_cameo: Decision = Decision.BLOCK
    public_figure: Decision = Decision.BLOCK
    near_margin: float = 0.05

    @classmethod
    def from_env(cls, env=None) -> "FaceScanPolicy":
        return cls(Decision(setting("GL_FACE_SCAN_UNDECLARED", env)),
                   Decision(setting("GL_FACE_SCAN_PUBLIC_FIGURE", env)),
                   setting("GL_FACE_SCAN_NEAR_MARGIN", env))


class FaceScanStage(_FaceStage):
    """After rendering: every face in frames sampled at 2 per second is searched in the cameo
    index and in the public-figure gallery. A face of an enrolled person who was not declared
    holds the video (they did not consent to this one), as does a public figure's face unless
    their own verified cameo was declared and allows the requester; a face that matches nobody in
    a video that declared cameos goes to review (the declared person should be the one on screen)."""
    dsa_category, dsa_keywords = NON_CONSENSUAL, DEEPFAKE

    name = "likeness.face_scan"
    frames_per_second = 2.0

    def __init__(self, face_models=None, policy: FaceScanPolicy | None = None):
        super().__init__(face_models)
        self._policy = policy

    @property
    def policy(self) -> FaceScanPolicy:
        """The operator's policy, read when used: registering the stage reads no setting."""
        return self._policy or FaceScanPolicy.from_env()

    @property
    def version(self) -> str:  # type: ignore[override]
        p = self.policy
        return f"scan-4:{p.undeclared_cameo.value}/{p.public_figure.value}/{p.near_margin}:{self.models_version}"

    def check(self, ctx: StageContext) -> Verdict:
        from likeness.matching import figure_matcher, matcher

        if ctx.media_path is None:
            return Verdict.allow()
        frames = ctx.frames_or_block(self.frames_per_second, "faces")  # decoded once for every scan
        if isinstance(frames, Verdict):
            return frames
        models, policy = self.face_models, self.policy
        cameo_gallery = matcher().gallery(ctx.session, models)
        figure_gallery = figure_matcher().gallery(ctx.session, models)
        cameos, figures = cameo_gallery.index, figure_gallery.index
        cut = models.same_person_threshold
        near_cut = cut - policy.near_margin
        found: dict[str, tuple[float, float]] = {}
        near: dict[str, tuple[float, float]] = {}
        figures_found: dict[str, tuple[float, float]] = {}
        faces_seen = unmatched = 0
        for t, frame in frames:
            for face in models.analyze(frame):
                faces_seen += 1
                hits = cameos.search(face.embedding, k=1, min_score=near_cut) if len(cameos) else []
                sure = [h for h in hits if h.score >= cut]
                unmatched += not sure
                _keep_best(found, sure, t)
                _keep_best(near, [h for h in hits if h.score < cut], t)
                _keep_best(figures_found, figures.search(face.embedding, k=1, min_score=cut) if len(figures) else [],
                           t)
        requested = [*ctx.cameo_ids, *remix_cameos(ctx.session, ctx.remix_of),
                     *input_image_cameos(ctx.session, ctx.generation_id)]
        declared = set(requested)
        findings = [
            (policy.undeclared_cameo, Reason("undeclared_cameo_face",
                                             "the video shows an enrolled person who was not asked for this video",
                                             {"cameo_id": cid, "score": round(score, 3), "at_s": round(t, 2)}))
            for cid, (score, t) in found.items() if cid not in declared
        ]
        findings += [
            (Decision.REVIEW, Reason("possible_cameo_face", "a face closely resembles an enrolled person who was "
                                     "not asked for this video", {"cameo_id": cid, "score": round(score, 3),
                                                                  "at_s": round(t, 2)}))
            for cid, (score, t) in near.items() if cid not in declared and cid not in found
        ]
        consenting = usable_figure_cameos(ctx.session, set(figures_found), requested, ctx.requester.id)
        findings += [
            (policy.public_figure, Reason("public_figure_face", "the video shows a public figure",
                                          {"figure_id": fid, "score": round(score, 3), "at_s": round(t, 2)}))
            for fid, (score, t) in figures_found.items() if fid not in consenting
        ]
        if unmatched and declared:
            findings.append((Decision.REVIEW, Reason(
                "unidentified_face", "a face in the video matches none of the declared cameos",
                {"faces": unmatched})))
        gap = _index_gap(cameo_gallery, figure_gallery) if faces_seen else None
        if gap:
            findings.append((Decision.REVIEW, gap))
        verdict = Verdict.worst(findings, {"faces_seen": float(faces_seen), "cameos_matched": float(len(found)),
                                           "figures_matched": float(len(figures_found))})
        verdict.evidence["matches"] = {cid: score for cid, (score, _) in found.items()}
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        # A cameo found on screen makes its owner a co-owner, declared or not.
        for cameo_id, score in verdict.evidence.get("matches", {}).items():
            record_appearance(ctx.session, ctx.generation_id, cameo_id, "detected", score)
