"""Safety gates."""

from __future__ import annotations

from app.stage import Decision, Reason, Stage, StageContext, Verdict
from safety.terms import TermPolicy, load_policy


class PromptTermStage(Stage):
    name = "safety.prompt_terms"

    def __init__(self, policy: TermPolicy | None = None):
        self._policy = policy

    @property
    def policy(self) -> TermPolicy:
        if self._policy is None:
            self._policy = load_policy()
        return self._policy

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"terms-{self.policy.version}"

    def check(self, ctx: StageContext) -> Verdict:
        hits = self.policy.evaluate(ctx.prompt)
        findings = [
            (h.decision, Reason(f"safety_{h.category.name}", f"{h.category.label}: the prompt contains “{h.term}”",
                                {"category": h.category.name, "term": h.term,
                                 "dsa_category": h.category.dsa_category}))
            for h in hits
        ]
        scores = {h.category.name: 1.0 for h in hits}
        return Verdict.worst(findings, scores)


class HashBankStage(Stage):
    """Known media: the input image (before rendering) or frames of the rendered video (after,
    2 a second, shared with the other scans) against every enabled hash bank. A match does what
    its bank says (block or review); a negative bank's match clears the image."""

    version = "banks-1"
    frames_per_second = 2.0

    def __init__(self, rendered: bool):
        self.rendered = rendered
        self.name = "safety.frame_hashes" if rendered else "safety.input_hashes"

    def _images(self, ctx: StageContext) -> list[tuple[float | None, "np.ndarray"]]:
        if self.rendered:
            return [(t, frame) for t, frame in ctx.frames(self.frames_per_second)]
        if ctx.input_image_path is None:
            return []
        import cv2
        import numpy as np

        image = cv2.imdecode(np.fromfile(ctx.input_image_path, np.uint8), cv2.IMREAD_COLOR)
        return [] if image is None else [(None, image)]  # an unreadable upload is refused at upload

    def check(self, ctx: StageContext) -> Verdict:
        from app.media import MediaError
        from safety.hashbanks import bank_index

        try:
            images = self._images(ctx)
        except MediaError as exc:
            return Verdict.block(Reason(exc.code, f"the video could not be matched against hash banks: {exc}"))
        if not images:
            return Verdict.allow()
        index = bank_index(ctx.session)
        if not len(index):
            return Verdict.allow({"images": float(len(images))})
        best: dict[str, tuple] = {}
        for t, image in images:
            for hit in index.match(image):
                if hit.bank_id not in best or hit.distance < best[hit.bank_id][0].distance:
                    best[hit.bank_id] = (hit, t)
        findings = [
            (Decision(hit.action), Reason("hash_bank_match", f"matches known media in the hash bank “{hit.bank_name}”",
                                          {"bank": hit.bank_name, "signal_type": hit.signal_type,
                                           "distance": hit.distance, "signal_id": hit.signal_id,
                                           "dsa_category": hit.category,
                                           **({"at_s": round(t, 2)} if t is not None else {})}))
            for hit, t in best.values()
        ]
        return Verdict.worst(findings, {"images": float(len(images)), "banks_matched": float(len(best))})
