"""The stage contract every gate implements, and the verdict it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session


class Decision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


_SEVERITY = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


@dataclass
class Verdict:
    decision: Decision
    reasons: list[Reason] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    stage: str = ""
    version: str = ""
    # Stage-private findings for its own persist(); kept in memory only, never stored.
    evidence: dict[str, Any] = field(default_factory=dict)
    # Allowed, but only so: "age_restricted" (published, hidden from teen accounts).
    restrictions: set[str] = field(default_factory=set)
    # What the stage found out for the stages after it (see Stage.produces); kept in memory only.
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def allow(cls, scores: dict[str, float] | None = None) -> "Verdict":
        return cls(Decision.ALLOW, [], scores or {})

    @classmethod
    def review(cls, *reasons: Reason, scores: dict[str, float] | None = None) -> "Verdict":
        return cls(Decision.REVIEW, list(reasons), scores or {})

    @classmethod
    def block(cls, *reasons: Reason, scores: dict[str, float] | None = None) -> "Verdict":
        return cls(Decision.BLOCK, list(reasons), scores or {})

    @classmethod
    def worst(cls, reasons_by_decision: list[tuple[Decision, Reason]],
              scores: dict[str, float] | None = None) -> "Verdict":
        """One verdict from several findings: the most severe decision, all reasons kept."""
        if not reasons_by_decision:
            return cls.allow(scores)
        decision = max((d for d, _ in reasons_by_decision), key=_SEVERITY.__getitem__)
        ordered = sorted(reasons_by_decision, key=lambda dr: -_SEVERITY[dr[0]])
        return cls(decision, [r for _, r in ordered], scores or {})


def combine(decisions: list[Decision]) -> Decision:
    """Any block -> block; else any review -> review; else allow."""
    return max(decisions, key=_SEVERITY.__getitem__, default=Decision.ALLOW)


@dataclass(frozen=True)
class Requester:
    id: str
    handle: str
    is_teen: bool


@dataclass
class StageContext:
    generation_id: str
    prompt: str
    cameo_ids: list[str]
    remix_of: str | None
    requester: Requester
    # check() only reads through it; writes belong in persist(), which dry runs skip.
    session: Session
    media_path: Path | None = None
    input_image_path: Path | None = None  # image-to-video: the still the video starts from
    # Facts the stages before this one produced in the same run (see Stage.produces / needs).
    facts: dict[str, Any] = field(default_factory=dict)
    _frames: dict[float, list] = field(default_factory=dict, repr=False)
    _fingerprints: dict[float, list] = field(default_factory=dict, repr=False)

    def frames(self, per_second: float) -> list[tuple[float, "np.ndarray"]]:
        """Frames of the rendered video sampled ``per_second`` times a second, decoded once per
        rate for all post-render stages. Raises app.kit.media.MediaError for undecodable media."""
        from app.kit.media import sample_frames  # PyAV loads only where media is looked at

        if self.media_path is None:
            return []
        if per_second not in self._frames:
            self._frames[per_second] = sample_frames(self.media_path, per_second=per_second)
        return self._frames[per_second]

    def frame_fingerprints(self, per_second: float) -> list["Fingerprint"]:
        """pHash + PDQ of each of `frames(per_second)`, computed once for every matcher."""
        from app.kit.perceptual import fingerprint

        if per_second not in self._fingerprints:
            self._fingerprints[per_second] = [fingerprint(image) for _, image in self.frames(per_second)]
        return self._fingerprints[per_second]

    def frames_or_block(self, per_second: float, looking_for: str) -> "list[tuple[float, np.ndarray]] | Verdict":
        """`frames`, or the verdict of a post-render scan that cannot decode the video: blocked
        with the media error's code, since what cannot be looked at cannot be cleared."""
        from app.kit.media import MediaError

        try:
            return self.frames(per_second)
        except MediaError as exc:
            return Verdict.block(Reason(exc.code, f"the video could not be scanned for {looking_for}: {exc}"))


    def fact(self, name: str, default: Any = None) -> Any:
        """A fact an earlier stage produced; the pipeline checked at start that one does."""
        return self.facts.get(name, default)


class Stage(ABC):
    """A gate. `name` and `version` are recorded on every verdict; bump the version whenever
    the model, data file or thresholds change so stored verdicts stay explainable. Reading
    `version` must stay cheap: it names the model files, it never loads them.

    A stage says what it tells later stages (`produces`: facts it sets on its verdict, e.g.
    `content.violence`) and what it needs from earlier ones (`needs`); the pipeline refuses to
    start when a need is not produced earlier in the same list. It never reads another stage's
    reason codes. `dsa_category`/`dsa_keywords` are what its blocks are stated as (DSA
    transparency database values); `models` names the model files (app.model_files) it loads."""

    name: str
    version: str
    produces: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    dsa_category: str = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"  # against our terms, nothing more specific
    dsa_keywords: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    @abstractmethod
    def check(self, ctx: StageContext) -> Verdict: ...

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        """Record domain facts of a real run (not of a dry run), in the pipeline's transaction:
        they commit together with the verdict or not at all. Default: nothing."""
