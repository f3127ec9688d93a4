"""Copyright gates: works a prompt names or describes (copyright/ip_text.py) or an input image
reproduces (copyright/images.py) before rendering, and works the rendered frames show after it,
judged by the policy their rightsholder has in force."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.db import utcnow
from app.errors import ValidationFailed
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from app.kit.image_embedding import image_embedder_model_file
from copyright.catalogue import Catalogue, WorkRef, load_catalogue
from copyright.images import decode, has_references, match_images
from copyright.ip_text import IpTextClassifier, ip_text_classifier, ip_text_version, load_ip_text_classifier
from copyright.models import GenerationWork, PolicyKind, Restriction, WorkPolicy
from copyright.services import MAX_SHARE_BP, policy_in_force, registered_catalogue


IP_INFRINGEMENT = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
COPYRIGHT_KEYWORDS = ("KEYWORD_COPYRIGHT_INFRINGEMENT",)
# What a licence's restrictions ask of the stages before: set by safety and likeness stages.
USE_FACTS = ("content.sexual", "content.violence", "people.cameos")


@dataclass(frozen=True)
class UseFacts:
    """What the request does with a work, for the policy's restrictions."""

    remix: bool = False
    real_person_cameos: bool = False
    sexual: bool = False
    violent: bool = False

    @classmethod
    def of(cls, ctx: StageContext) -> "UseFacts":
        return cls(remix=ctx.remix_of is not None, real_person_cameos=ctx.fact("people.cameos", 0) > 0,
                   sexual=bool(ctx.fact("content.sexual")), violent=bool(ctx.fact("content.violence")))

    def breaks(self, restrictions: list[str]) -> list[str]:
        broken = {Restriction.NO_REMIX: self.remix, Restriction.NO_REAL_PERSON_CAMEOS: self.real_person_cameos,
                  Restriction.NO_SEXUAL: self.sexual, Restriction.NO_VIOLENCE: self.violent}
        return sorted(r for r in restrictions if broken.get(Restriction(r)))


def judge(ref: WorkRef, policy: WorkPolicy | None, facts: UseFacts) -> tuple[Decision, Reason]:
    """One matched work under its policy in force (None: nobody opted it in)."""
    work = ref.work
    base = {"work_id": work.id, "title": work.title, "owner": work.owner, "matched_by": ref.via}
    # A sure match (a title) blocks; an ambiguous one (a description, a title-like word) is reviewed.
    hold = ref.decision
    if policy is None:
        code = "copyright_default_deny" if hold == Decision.BLOCK else "possible_copyrighted_work"
        return hold, Reason(code, f"“{work.title}” ({work.owner}) is a protected {work.kind}; its rightsholder "
                                  "has not opted in", base)
    base |= {"policy_version": policy.version, "policy": policy.kind}
    if policy.kind == PolicyKind.BLOCK:
        return hold, Reason("copyright_policy_block", f"the rightsholder of “{work.title}” does not allow its use",
                            base)
    broken = facts.breaks(policy.restrictions)
    if broken:
        return hold, Reason("copyright_restricted_use", f"the rightsholder of “{work.title}” allows it, but not "
                                                        f"{', '.join(broken)}", base | {"restrictions": broken})
    return Decision.ALLOW, Reason("copyright_licensed", f"“{work.title}” is licensed by its rightsholder",
                                  base | {"share_bp": policy.share_bp,
                                          "attribution": policy.kind != PolicyKind.ALLOW})


def judge_uses(ctx: StageContext, refs: list[WorkRef], already_licensed_bp: int = 0) -> Verdict:
    """Every matched work under the policy in force now; the verdict carries the uses to record.
    ``already_licensed_bp``: shares of works licensed earlier in this generation's life."""
    if not refs:
        return Verdict.allow({"works_matched": 0.0})
    facts, now = UseFacts.of(ctx), utcnow()
    findings, uses = [], []
    for ref in refs:
        policy = policy_in_force(ctx.session, ref.work.id, now)
        decision, reason = judge(ref, policy, facts)
        findings.append((decision, reason))
        uses.append({"work_id": ref.work.id, "policy_id": policy.id if policy else None,
                     "org_id": policy.org_id if policy else None, "decision": decision.value, "via": ref.via,
                     "share_bp": policy.share_bp if policy and decision == Decision.ALLOW else 0})
    total_share = already_licensed_bp + sum(u["share_bp"] for u in uses)
    if total_share > MAX_SHARE_BP:
        findings.append((Decision.BLOCK, Reason(
            "revenue_shares_exceed_total", "the works' revenue shares add up to more than 100 %",
            {"share_bp": total_share})))
    verdict = Verdict.worst(findings, {"works_matched": float(len(refs)), "share_bp": float(total_share)})
    verdict.evidence["uses"] = uses
    return verdict


def record_uses(ctx: StageContext, verdict: Verdict) -> None:
    """The works a generation uses and the policies applied (the first finding of a work stands)."""
    for use in verdict.evidence.get("uses", []):
        if ctx.session.get(GenerationWork, (ctx.generation_id, use["work_id"])) is None:
            ctx.session.add(GenerationWork(generation_id=ctx.generation_id, work_id=use["work_id"],
                                           policy_id=use["policy_id"], org_id=use["org_id"],
                                           decision=use["decision"], via=use["via"]))
    ctx.session.flush()


def _image_embedder_tag() -> str:
    """":<tag>" of the image-embedding model reference images are matched with, when one is set."""
    record = image_embedder_model_file()
    return f":{record.tag}" if record is not None else ""


class _WorkLookup:
    def __init__(self, catalogue: Catalogue, registered: Catalogue):
        self.catalogue, self.registered = catalogue, registered

    def __call__(self, work_id: str):
        return self.catalogue.by_id(work_id) or self.registered.by_id(work_id)


class RightsStage(Stage):
    """Works in the shipped catalogue and in the registry are default-deny until their verified
    rightsholder opts in; then the policy in force decides, restrictions included. The works
    used and the policy versions applied are recorded on the generation."""
    dsa_category, dsa_keywords = IP_INFRINGEMENT, COPYRIGHT_KEYWORDS
    needs = USE_FACTS

    name = "copyright.rights"
    models = ("text-embedder", "ip-work-head", "ip-work-facts", "image-embedder")

    def __init__(self, catalogue: Catalogue | None = None, classifier: IpTextClassifier | None = None):
        self._catalogue, self._classifier = catalogue, classifier

    @property
    def classifier(self) -> IpTextClassifier:
        """Names, misspellings and descriptions of the catalogue's works (loads the text model once)."""
        if self._classifier is None:
            self._classifier = (ip_text_classifier(self._catalogue) if self._catalogue
                                else load_ip_text_classifier())
        return self._classifier

    @property
    def catalogue(self) -> Catalogue:
        if self._classifier is not None:
            return self._classifier.catalogue
        return self._catalogue or load_catalogue()

    @property
    def version(self) -> str:  # type: ignore[override]
        loaded = self._classifier
        text = loaded.version if loaded is not None else ip_text_version(self.catalogue)
        return f"rights-4:{text}{_image_embedder_tag()}"

    def _image_refs(self, ctx: StageContext, registered: Catalogue) -> list[WorkRef]:
        """Works whose reference images the input image reproduces."""
        if ctx.input_image_path is None:
            return []
        try:
            image = decode(ctx.input_image_path)
        except (OSError, ValidationFailed):
            return []  # likeness.input_faces already refuses an unreadable input image
        lookup = _WorkLookup(self.catalogue, registered)
        return [WorkRef(work, evidence.decision, "reference_image", evidence.detail)
                for work_id, evidence in match_images(ctx.session, [image]).items()
                if (work := lookup(work_id)) is not None]

    def check(self, ctx: StageContext) -> Verdict:
        registered = registered_catalogue(ctx.session)
        found: dict[str, WorkRef] = {}
        text_refs = [match.ref() for match in self.classifier.classify(ctx.prompt)]
        for ref in text_refs + registered.find(ctx.prompt) + self._image_refs(ctx, registered):
            held = found.get(ref.work.id)
            if held is None or (held.decision == Decision.REVIEW and ref.decision == Decision.BLOCK):
                found[ref.work.id] = ref
        return judge_uses(ctx, list(found.values()))

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        record_uses(ctx, verdict)


class RenderedWorksStage(Stage):
    """After rendering: frames (2 a second, shared with the face scan) against every work's
    reference images. A work on screen is judged by its policy in force now, so a work nobody
    asked for, or whose licence changed while rendering, holds the video; a licensed one found
    only here is recorded on the generation and earns its share."""
    dsa_category, dsa_keywords = IP_INFRINGEMENT, COPYRIGHT_KEYWORDS
    needs = USE_FACTS

    name = "copyright.frames"
    models = ("image-embedder",)
    frames_per_second = 2.0

    def __init__(self, catalogue: Catalogue | None = None):
        self._catalogue = catalogue

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"frames-1{_image_embedder_tag()}"

    def check(self, ctx: StageContext) -> Verdict:
        if ctx.media_path is None:
            return Verdict.allow()
        frames = ctx.frames_or_block(self.frames_per_second, "works")
        if isinstance(frames, Verdict):
            return frames
        if self._catalogue is None:
            self._catalogue = load_catalogue()
        lookup = _WorkLookup(self._catalogue, registered_catalogue(ctx.session))
        refs = []
        found = {}
        if has_references(ctx.session):  # frames are hashed once, for the hash banks too
            prints = ctx.frame_fingerprints(self.frames_per_second)
            found = match_images(ctx.session, [image for _, image in frames], prints)
        for work_id, evidence in found.items():
            work = lookup(work_id)
            if work is not None:
                at = frames[evidence.image_index][0]
                refs.append(WorkRef(work, evidence.decision, "rendered_frame", f"{evidence.detail}, at {at:.1f} s"))
        on_screen = {ref.work.id for ref in refs}
        earlier = ctx.session.scalars(select(GenerationWork).where(
            GenerationWork.generation_id == ctx.generation_id, GenerationWork.decision == Decision.ALLOW.value))
        licensed_bp = sum(policy.share_bp for use in earlier
                          if use.work_id not in on_screen and use.policy_id
                          and (policy := ctx.session.get(WorkPolicy, use.policy_id)) is not None)
        verdict = judge_uses(ctx, refs, already_licensed_bp=licensed_bp)
        verdict.scores["frames_scanned"] = float(len(frames))
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        record_uses(ctx, verdict)
