"""Copyright gate: works a prompt names or describes (copyright/ip_text.py) or an input image
reproduces (copyright/images.py), judged by the policy their rightsholder has in force."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import utcnow
from app.errors import ValidationFailed
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from copyright.catalogue import Catalogue, WorkRef
from copyright.images import decode, match_image
from copyright.ip_text import IpTextClassifier, load_ip_text_classifier, load_text_embedder
from copyright.models import GenerationWork, PolicyKind, Restriction, WorkPolicy
from copyright.services import MAX_SHARE_BP, policy_in_force, registered_catalogue


@dataclass(frozen=True)
class UseFacts:
    """What the request does with a work, for the policy's restrictions."""

    remix: bool = False
    real_person_cameos: bool = False
    sexual: bool = False
    violent: bool = False

    @classmethod
    def of(cls, ctx: StageContext) -> "UseFacts":
        codes = {r.code for v in ctx.earlier for r in v.reasons}
        return cls(remix=ctx.remix_of is not None, real_person_cameos=bool(ctx.cameo_ids),
                   sexual=any(c.startswith("safety_sexual") for c in codes),
                   violent=any(c.startswith("safety_violence") for c in codes))

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


class RightsStage(Stage):
    """Works in the shipped catalogue and in the registry are default-deny until their verified
    rightsholder opts in; then the policy in force decides, restrictions included. The works
    used and the policy versions applied are recorded on the generation."""

    name = "copyright.rights"

    def __init__(self, catalogue: Catalogue | None = None, classifier: IpTextClassifier | None = None):
        self._catalogue, self._classifier = catalogue, classifier

    @property
    def classifier(self) -> IpTextClassifier:
        """Names, misspellings and descriptions of the catalogue's works (loads the text model once)."""
        if self._classifier is None:
            self._classifier = (IpTextClassifier(self._catalogue, load_text_embedder()) if self._catalogue
                                else load_ip_text_classifier())
        return self._classifier

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue or self.classifier.catalogue

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"rights-3:{self.classifier.version}"

    def _image_refs(self, ctx: StageContext, registered: Catalogue) -> list[WorkRef]:
        """Works whose reference images the input image reproduces."""
        if ctx.input_image_path is None:
            return []
        try:
            image = decode(ctx.input_image_path)
        except (OSError, ValidationFailed):
            return []  # likeness.input_faces already refuses an unreadable input image
        refs = []
        for work_id, (decision, bits) in match_image(ctx.session, image).items():
            work = self.catalogue.by_id(work_id) or registered.by_id(work_id)
            if work is not None:
                refs.append(WorkRef(work, decision, "reference_image", f"{bits} bits from a reference image"))
        return refs

    def check(self, ctx: StageContext) -> Verdict:
        registered = registered_catalogue(ctx.session)
        found: dict[str, WorkRef] = {}
        text_refs = [match.ref() for match in self.classifier.classify(ctx.prompt)]
        for ref in text_refs + registered.find(ctx.prompt) + self._image_refs(ctx, registered):
            held = found.get(ref.work.id)
            if held is None or (held.decision == Decision.REVIEW and ref.decision == Decision.BLOCK):
                found[ref.work.id] = ref
        refs = list(found.values())
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
        total_share = sum(u["share_bp"] for u in uses)
        if total_share > MAX_SHARE_BP:
            findings.append((Decision.BLOCK, Reason(
                "revenue_shares_exceed_total", "the works' revenue shares add up to more than 100 %",
                {"share_bp": total_share})))
        verdict = Verdict.worst(findings, {"works_matched": float(len(refs)), "share_bp": float(total_share)})
        verdict.evidence["uses"] = uses
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        for use in verdict.evidence.get("uses", []):
            if ctx.session.get(GenerationWork, (ctx.generation_id, use["work_id"])) is None:
                ctx.session.add(GenerationWork(generation_id=ctx.generation_id, work_id=use["work_id"],
                                               policy_id=use["policy_id"], org_id=use["org_id"],
                                               decision=use["decision"], via=use["via"]))
        ctx.session.flush()
