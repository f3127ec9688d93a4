"""Safety gates."""

from __future__ import annotations

from app.kit.perceptual import Fingerprint
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from safety.policy import Action, SafetyPolicy, load_policy
from safety.prompt_classifier import (
    PromptClassifier, PromptRejected, load_prompt_classifier, prompt_classifier_version,
)

AGE_RESTRICTED = "age_restricted"
# What later stages learn from a safety verdict (a licence may forbid sexual or violent use):
# a fact is set when a finding of one of its categories survived the policy (age restriction included).
CONTENT_FACTS = {"content.sexual": ("sexual", "sexual_minors"), "content.violence": ("violence_gore",)}
_DECISION = {Action.ALLOW: Decision.ALLOW, Action.AGE_RESTRICT: Decision.ALLOW, Action.REVIEW: Decision.REVIEW,
             Action.BLOCK: Decision.BLOCK}


def judged(findings: list[tuple[Decision, Reason]], ctx: StageContext, scores: dict[str, float],
           policy: SafetyPolicy | None = None) -> Verdict:
    """Classifier findings (`safety_<category>` reasons, REVIEW = possible, BLOCK = likely, BLOCK
    scoring 1.0 = certain) turned into actions by the policy for this requester (adult or teen);
    other reasons pass unchanged."""
    policy = policy or load_policy()
    out, restrictions = [], set()
    for decision, reason in findings:
        category = reason.details.get("category") if reason.code.startswith("safety_") else None
        if category is None or decision == Decision.ALLOW:
            out.append((decision, reason))
            continue
        score = reason.details.get("score")
        level = ("certain" if score is not None and score >= 1.0 else "likely") if decision == Decision.BLOCK \
            else "possible"
        action = policy.action(category, level, teen=ctx.requester.is_teen, score=score)
        if reason.details.get("doubted") and action in (Action.ALLOW, Action.AGE_RESTRICT):
            action = Action.REVIEW   # what would have blocked, doubted by the reader: a person decides
        if action == Action.ALLOW:
            continue
        if action == Action.AGE_RESTRICT:
            restrictions.add(AGE_RESTRICTED)
        out.append((_DECISION[action], Reason(reason.code, reason.message, {
            **reason.details, "level": level, "action": action.value, "policy": policy.version,
            "audience": "teen" if ctx.requester.is_teen else "adult"})))
    verdict = Verdict.worst(out, scores)
    verdict.restrictions = restrictions if verdict.decision == Decision.ALLOW else set()
    found = {r.details.get("category") for r in verdict.reasons if r.code.startswith("safety_")}
    verdict.facts = {fact: bool(found & set(categories)) for fact, categories in CONTENT_FACTS.items()}
    return verdict


class _PolicyStage(Stage):
    """A safety stage whose findings the policy turns into actions; its version names both."""
    dsa_category = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"  # when a reason names no category of its own

    def __init__(self, policy: SafetyPolicy | None = None):
        self._policy = policy

    @property
    def policy(self) -> SafetyPolicy:
        return self._policy or load_policy()

    def _version(self, classifier_version: str) -> str:
        return f"{classifier_version}:{self.policy.tag}"


class PromptSafetyStage(_PolicyStage):
    """Harmful prompts by their terms and their meaning (safety/prompt_classifier.py): one reason
    `safety_<category>` per flagged category with its score, matched terms and nearest exemplar;
    scores for every category. sexual_minors findings always block (`details.always_block`).
    The model and exemplar embeddings load on the first check, once per process."""

    name = "safety.prompt"
    produces = tuple(CONTENT_FACTS)
    models = ("text-embedder", "prompt-head", "prompt-reader", "multilingual-embedder", "prompt-head-multilingual",
              "prompt-reader-multilingual")

    def __init__(self, classifier: PromptClassifier | None = None, policy: SafetyPolicy | None = None):
        super().__init__(policy)
        self._classifier = classifier

    @property
    def classifier(self) -> PromptClassifier:
        if self._classifier is None:
            self._classifier = load_prompt_classifier()
        return self._classifier

    @property
    def version(self) -> str:  # type: ignore[override]
        loaded = self._classifier
        return self._version(loaded.version if loaded is not None else prompt_classifier_version())

    def check(self, ctx: StageContext) -> Verdict:
        try:
            result = self.classifier.classify(ctx.prompt)
        except PromptRejected as exc:
            if exc.code == "empty_prompt":
                return Verdict.allow()   # nothing to judge (the API refuses empty prompts before this)
            # Too long or not text: what cannot be read is not allowed unseen.
            return Verdict.review(Reason("prompt_unclassifiable", f"the prompt could not be classified: {exc.message}",
                                         {"cause": exc.code, **exc.details}))
        findings = [(f.decision, Reason(f"safety_{f.category.name}", f.message(), f.details()))
                    for f in result.findings]
        return judged(findings, ctx, result.scores, self.policy)


class HashBankStage(Stage):
    """Known media: the input image (before rendering) or frames of the rendered video (after,
    2 a second, shared with the other scans) against every enabled hash bank. A match does what
    its bank says (block or review); a negative bank's match clears the image."""
    dsa_category = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"  # when a reason names no category of its own

    version = "banks-1"
    frames_per_second = 2.0

    def __init__(self, rendered: bool):
        self.rendered = rendered
        self.name = "safety.frame_hashes" if rendered else "safety.input_hashes"

    def _fingerprints(self, ctx: StageContext) -> "list[tuple[float | None, Fingerprint]]":
        if self.rendered:
            frames = ctx.frames(self.frames_per_second)
            return [(t, hashes) for (t, _), hashes in zip(frames, ctx.frame_fingerprints(self.frames_per_second))]
        if ctx.input_image_path is None:
            return []
        from app.kit.media import MediaError, read_image
        from app.kit.perceptual import fingerprint

        try:
            return [(None, fingerprint(read_image(ctx.input_image_path)))]
        except MediaError:
            return []  # safety.input_image and likeness.input_faces block an unreadable input image

    def check(self, ctx: StageContext) -> Verdict:
        from safety.hashbanks import bank_index

        if not self.rendered and ctx.input_image_path is None:
            return Verdict.allow()  # a prompt alone has no media to look up
        index = bank_index(ctx.session)
        if self.rendered:  # the video must decode, banks or not: what cannot be looked at cannot be cleared
            frames = ctx.frames_or_block(self.frames_per_second, "known media")
            if isinstance(frames, Verdict):
                return frames
        if not len(index):
            return Verdict.allow()
        images = self._fingerprints(ctx)
        if not images:
            return Verdict.allow()
        best: dict[str, tuple] = {}
        for t, hashes in images:
            for hit in index.match(hashes):
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


# --- media: rendered frames, input images, speech (safety/frames.py, safety/audio.py) -------------
# Models load on first use (once per process), so importing the pipeline stays cheap; until then a
# version is built from the model records (app/model_files.py) and the data files.


class _FrameModelStage(_PolicyStage):
    models = ("nudity-detector",)

    def __init__(self, classifier=None, policy: SafetyPolicy | None = None):
        super().__init__(policy)
        self._classifier = classifier

    def _verdict(self, result, what: str, ctx: StageContext, scores: dict[str, float]) -> Verdict:
        findings = [(f.decision, Reason(f"safety_{f.category.name}", f.message(what), f.details()))
                    for f in result.findings]
        return judged(findings, ctx, {**result.scores, **scores}, self.policy)

    @property
    def classifier(self):
        if self._classifier is None:
            from safety.frames import load_frame_classifier
            self._classifier = load_frame_classifier()
        return self._classifier

    @property
    def version(self) -> str:  # type: ignore[override]
        from safety.frames import frame_classifier_version

        loaded = self._classifier
        return self._version(loaded.version if loaded is not None else frame_classifier_version())


class FrameSafetyStage(_FrameModelStage):
    """After rendering: the frames sampled twice a second (decoded once, shared with the face and
    works scans) through nudenet's detector; per-label cut-offs in safety/data/frames.toml."""

    name = "safety.frames"
    produces = tuple(CONTENT_FACTS)
    frames_per_second = 2.0

    def check(self, ctx: StageContext) -> Verdict:
        if ctx.media_path is None:
            return Verdict.allow()
        frames = ctx.frames_or_block(self.frames_per_second, "sexual content")
        if isinstance(frames, Verdict):
            return frames
        result = self.classifier.classify([image for _, image in frames], [t for t, _ in frames])
        return self._verdict(result, "frame", ctx, {"frames_scanned": float(len(frames))})


class InputImageSafetyStage(_FrameModelStage):
    """Image-to-video, before rendering: the input image through the same detector and cut-offs."""

    name = "safety.input_image"
    produces = tuple(CONTENT_FACTS)

    def check(self, ctx: StageContext) -> Verdict:
        from app.kit.media import MediaError, read_image

        if ctx.input_image_path is None:
            return Verdict.allow()
        try:
            image = read_image(ctx.input_image_path)
        except MediaError as exc:
            return Verdict.block(Reason("input_image_unreadable", f"the input image cannot be read: {exc}",
                                        {"cause": exc.code}))
        return self._verdict(self.classifier.classify([image]), "input image", ctx, {})


class AudioSafetyStage(_PolicyStage):
    """After rendering: the speech in the video's audio (Silero VAD), transcribed (app/kit/speech.py),
    through the text classifier that judges prompts. A video without audio has nothing to hear."""

    name = "safety.audio"
    produces = tuple(CONTENT_FACTS)
    models = ("voice-activity", "speech-to-text", "text-embedder", "prompt-head", "prompt-reader",
              "multilingual-embedder", "prompt-head-multilingual", "prompt-reader-multilingual")
    max_seconds = 120.0  # as long as the media integrity check lets a render be

    def __init__(self, classifier=None, policy: SafetyPolicy | None = None):
        super().__init__(policy)
        self._classifier = classifier

    @property
    def classifier(self):
        if self._classifier is None:
            from safety.audio import load_audio_classifier
            self._classifier = load_audio_classifier()
        return self._classifier

    @property
    def version(self) -> str:  # type: ignore[override]
        from safety.audio import audio_classifier_version

        loaded = self._classifier
        return self._version(loaded.version if loaded is not None else audio_classifier_version())

    def check(self, ctx: StageContext) -> Verdict:
        from app.kit.media import MediaError, load_audio

        if ctx.media_path is None:
            return Verdict.allow()
        try:
            track = load_audio(ctx.media_path, max_seconds=self.max_seconds)
        except MediaError as exc:
            if exc.code == "media_no_audio":
                return Verdict.allow({"speech_s": 0.0})
            return Verdict.block(Reason(exc.code, f"the video's audio could not be checked: {exc}"))
        result = self.classifier.classify(track)
        findings = [(f.decision, Reason(f"safety_{f.category}", f.message(), f.details())) for f in result.findings]
        verdict = judged(findings, ctx, {**result.scores, "speech_s": result.speech_s}, self.policy)
        verdict.evidence["transcript"] = result.transcript
        return verdict
