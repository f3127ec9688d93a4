"""What a rendered video says: voice activity, a transcript of the speech, and the transcript judged
by the text classifier that judges prompts.

1. Decoding is ``app.kit.media.load_audio``'s (16 kHz mono; ``MediaError`` codes for bad media).
2. Voice activity: Silero VAD's ONNX model from inside the ``silero-vad`` wheel, run with
   onnxruntime (the wheel's Python package is not imported: it imports torch). The wheel's
   "sequence" export computes the same per-frame probabilities as the streaming model, bit for
   bit, in one call per 16 s of audio instead of one per 32 ms frame (about twice as fast on a
   4 s clip). Frames become segments as silero's own ``get_speech_timestamps`` does it (enter
   at 0.5, leave under 0.35, >= 250 ms of speech, 100 ms of silence closes, 30 ms padding).
3. Speech-to-text: ``app.kit.speech`` (pocketsphinx's free English LM by default, Whisper from
   ``GL_SPEECH_MODEL``) on each utterance (segments closer than 0.5 s joined, 0.25 s of context
   either side). Only speech is transcribed: silence and music cost no decoding, and Whisper cannot
   hallucinate words into them.
4. The transcript goes through a text classifier: anything with ``classify(text)`` returning a
   result with ``decision`` and ``findings`` (``safety.prompt_classifier.PromptClassifier``, or
   ``TermClassifier`` over the term policy alone). Its categories and cut-offs are the prompt's.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import numpy as np
import onnxruntime as ort

from app.kit.media import SAMPLE_RATE, AudioTrack
from app.kit.speech import SpeechSegment, Transcriber, load_transcriber, speech_model_file
from app.model_files import LicenceClass, ModelFile, bundled, configured, is_shipped, module_dir, value_of
from app.stage import Decision, combine
from safety.terms import Category, TermPolicy

VAD_MODEL_ENV = "GL_VAD_MODEL"
VAD_FILE = "silero_vad_16k_sequence.onnx"
#: The shipped model: recorded from the silero-vad 6.2.3 wheel (checked before the service starts).
SILERO_VERSION = "6.2.3"
SILERO_SEQUENCE_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"
FRAME = 512        # samples per VAD frame at 16 kHz (32 ms)
CONTEXT = 64       # samples of the previous frame each frame sees
BLOCK_FRAMES = 512  # frames per onnxruntime call (16.4 s)

# silero-vad's get_speech_timestamps defaults.
THRESHOLD = 0.5
NEG_THRESHOLD = THRESHOLD - 0.15
MIN_SPEECH_S = 0.25
MIN_SILENCE_S = 0.1
SPEECH_PAD_S = 0.03
# Utterances handed to the transcriber.
UTTERANCE_GAP_S = 0.5
UTTERANCE_PAD_S = 0.25
#: Transcripts are classified in pieces of at most this many characters (the prompt classifier
#: refuses texts over 8,000): a few minutes of speech.
MAX_TEXT_CHARS = 2000


class VadModelError(RuntimeError):
    """The VAD model is missing or unusable; the message names the path."""


# --------------------------------------------------------------------------------------------
# Voice activity


def silero_model_path() -> Path:
    """``silero_vad/data/silero_vad_16k_sequence.onnx`` of the installed wheel, found without importing it."""
    package = module_dir("silero_vad")
    if package is None:
        raise VadModelError(f"the silero-vad package is not installed (pip install silero-vad==6.2.3), "
                            f"or set {VAD_MODEL_ENV} to a local {VAD_FILE}")
    return package / "data" / VAD_FILE


class SileroVad:
    """Per-frame speech probabilities and speech segments of an ``AudioTrack``; thread-safe."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise VadModelError(f"VAD model file not found: {self.path}")
        data = self.path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1  # a recurrent net over small frames: threads do not help
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise VadModelError(f"{self.path} is not a loadable ONNX model: {exc}") from exc
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "h", "c"}:
            raise VadModelError(f"{self.path} is not Silero VAD's sequence model (inputs {sorted(names)})")
        self._lock = threading.Lock()

    @property
    def tag(self) -> str:
        return f"{vad_model_file(self.path).version}:{self.sha256[:8]}"

    def blocks(self, track: AudioTrack) -> list[np.ndarray]:
        """The model's input: (frames, 64 + 512) float32 blocks, each frame with its left context."""
        audio = track.samples.astype(np.float32) / 32768.0
        n = -(-len(audio) // FRAME)
        frames = np.zeros((n, FRAME), np.float32)
        frames.reshape(-1)[:len(audio)] = audio
        contexts = np.zeros((n, CONTEXT), np.float32)
        if n > 1:
            contexts[1:] = frames[:-1, -CONTEXT:]
        windows = np.concatenate([contexts, frames], axis=1)
        return [windows[i:i + BLOCK_FRAMES] for i in range(0, n, BLOCK_FRAMES)]

    def run(self, blocks: Sequence[np.ndarray]) -> np.ndarray:
        """The bare model calls: speech probability per 32 ms frame, the recurrent state carried over."""
        h = np.zeros((1, 1, 128), np.float32)
        c = np.zeros((1, 1, 128), np.float32)
        out = []
        with self._lock:
            for block in blocks:
                probs, h, c = self._session.run(["speech_probs", "hn", "cn"], {"input": block, "h": h, "c": c})
                out.append(np.asarray(probs, np.float32).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def probabilities(self, track: AudioTrack) -> np.ndarray:
        return self.run(self.blocks(track))

    def segments(self, track: AudioTrack) -> list[SpeechSegment]:
        return segments_from_probabilities(self.probabilities(track), len(track.samples))


def segments_from_probabilities(probs: Iterable[float], n_samples: int, rate: int = SAMPLE_RATE) -> list[SpeechSegment]:
    """silero-vad's ``get_speech_timestamps_from_probs`` with its defaults (no maximum length)."""
    min_speech = rate * MIN_SPEECH_S
    min_silence = rate * MIN_SILENCE_S
    pad = int(rate * SPEECH_PAD_S)
    spans: list[list[int]] = []
    triggered, start, temp_end = False, 0, 0
    for i, p in enumerate(probs):
        sample = FRAME * i
        if p >= THRESHOLD and temp_end:
            temp_end = 0
        if p >= THRESHOLD and not triggered:
            triggered, start = True, sample
            continue
        if p < NEG_THRESHOLD and triggered:
            if not temp_end:
                temp_end = sample
            if sample - temp_end < min_silence:
                continue
            if temp_end - start > min_speech:
                spans.append([start, temp_end])
            triggered, temp_end = False, 0
    if triggered and n_samples - start > min_speech:
        spans.append([start, n_samples])
    for i, span in enumerate(spans):  # pad, sharing short gaps between neighbours
        if i == 0:
            span[0] = max(0, span[0] - pad)
        if i < len(spans) - 1:
            gap = spans[i + 1][0] - span[1]
            if gap < 2 * pad:
                span[1] += gap // 2
                spans[i + 1][0] = max(0, spans[i + 1][0] - gap // 2)
            else:
                span[1] = min(n_samples, span[1] + pad)
                spans[i + 1][0] = max(0, spans[i + 1][0] - pad)
        else:
            span[1] = min(n_samples, span[1] + pad)
    return [SpeechSegment(round(s / rate, 3), round(e / rate, 3)) for s, e in spans]


def utterances(segments: Sequence[SpeechSegment], duration_s: float) -> list[SpeechSegment]:
    """Segments closer than UTTERANCE_GAP_S joined, UTTERANCE_PAD_S of context added either side."""
    joined: list[list[float]] = []
    for seg in segments:
        if joined and seg.start_s - joined[-1][1] < UTTERANCE_GAP_S:
            joined[-1][1] = max(joined[-1][1], seg.end_s)
        else:
            joined.append([seg.start_s, seg.end_s])
    return [SpeechSegment(round(max(0.0, s - UTTERANCE_PAD_S), 3), round(min(duration_s, e + UTTERANCE_PAD_S), 3))
            for s, e in joined]


# --------------------------------------------------------------------------------------------
# Text classifiers


class TextFinding(Protocol):
    category: Any      # .name, .label, .dsa_category
    decision: Decision
    score: float

    def message(self) -> str: ...

    def details(self) -> dict: ...


class TextResult(Protocol):
    decision: Decision
    findings: Sequence[TextFinding]


class TextClassifier(Protocol):
    """What the transcript is judged by: ``safety.prompt_classifier.PromptClassifier`` fits."""

    @property
    def version(self) -> str: ...

    def classify(self, text: str) -> TextResult: ...


@dataclass(frozen=True)
class TermFinding:
    category: Category
    decision: Decision
    score: float
    terms: tuple[str, ...]

    def message(self) -> str:
        return f"{self.category.label}: " + ", ".join(f"“{t}”" for t in self.terms)

    def details(self) -> dict:
        out = {"category": self.category.name, "dsa_category": self.category.dsa_category,
               "dsa_keywords": list(getattr(self.category, "dsa_keywords", ())), "score": self.score,
               "terms": list(self.terms), "term": self.terms[0], "via": ["terms"]}
        if self.category.always_block:
            out["always_block"] = True
        return out


@dataclass(frozen=True)
class TermResult:
    decision: Decision
    findings: tuple[TermFinding, ...]


class TermClassifier:
    """The term policy alone as a text classifier (no embedding model): one finding per category."""

    def __init__(self, policy: TermPolicy):
        self.policy = policy

    @property
    def version(self) -> str:
        return f"terms-{self.policy.version}"

    def classify(self, text: str) -> TermResult:
        by_category: dict[str, list] = {}
        for hit in self.policy.evaluate(text):
            by_category.setdefault(hit.category.name, []).append(hit)
        findings = []
        for hits in by_category.values():
            decision = combine([h.decision for h in hits])
            findings.append(TermFinding(hits[0].category, decision, 1.0, tuple(dict.fromkeys(h.term for h in hits))))
        findings.sort(key=lambda f: f.decision is not Decision.BLOCK)
        return TermResult(combine([f.decision for f in findings]), tuple(findings))


# --------------------------------------------------------------------------------------------
# The audio classifier


@dataclass(frozen=True)
class Utterance:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class AudioFinding:
    """A category the transcript falls into, with the utterance it was heard in (when it can be placed)."""

    finding: Any          # the text classifier's finding
    heard: Utterance | None

    @property
    def decision(self) -> Decision:
        return self.finding.decision

    @property
    def category(self) -> str:
        return self.finding.category.name

    def message(self) -> str:
        where = f" at {self.heard.start_s:.1f} s" if self.heard is not None else ""
        return f"the video's speech{where}: {self.finding.message()}"

    def details(self) -> dict:
        out = dict(self.finding.details())
        if self.heard is not None:
            out.update(heard=self.heard.text[:300], at_s=self.heard.start_s, until_s=self.heard.end_s)
        return out


@dataclass(frozen=True)
class AudioResult:
    decision: Decision
    speech_s: float                 # seconds of speech the VAD found
    utterances: tuple[Utterance, ...]
    findings: tuple[AudioFinding, ...]
    scores: dict[str, float]        # per category flagged: the classifier's score
    version: str

    @property
    def transcript(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)


def _chunks(items: Sequence[Utterance], max_chars: int = MAX_TEXT_CHARS) -> list[str]:
    chunks: list[str] = []
    current = ""
    for u in items:
        for piece in (u.text[i:i + max_chars] for i in range(0, len(u.text), max_chars)):
            if current and len(current) + 1 + len(piece) > max_chars:
                chunks.append(current)
                current = ""
            current = f"{current} {piece}".strip()
    if current:
        chunks.append(current)
    return chunks


def _place(finding: Any, heard: Sequence[Utterance]) -> Utterance | None:
    """The first utterance holding the finding's term or matched text (casefolded), else the only one."""
    details = finding.details()
    needles = [details.get(k) for k in ("term", "matched_text")]
    for needle in filter(None, needles):
        for u in heard:
            if str(needle).casefold() in u.text.casefold():
                return u
    spoken = [u for u in heard if u.text]
    return spoken[0] if len(spoken) == 1 else None


def _version(vad_tag: str, transcriber_tag: str, text_version: str) -> str:
    return f"audio-1:{vad_tag}:{transcriber_tag}:{text_version}"


class AudioClassifier:
    def __init__(self, vad: SileroVad, transcriber: Transcriber, text: TextClassifier):
        self.vad, self.transcriber, self.text = vad, transcriber, text

    @property
    def version(self) -> str:
        return _version(self.vad.tag, self.transcriber.tag, self.text.version)

    def transcribe(self, track: AudioTrack) -> tuple[float, list[Utterance]]:
        segments = self.vad.segments(track)
        speech_s = round(sum(s.duration_s for s in segments), 3)
        heard = []
        for u in utterances(segments, track.duration_s):
            piece = AudioTrack(track.samples[int(u.start_s * track.rate):int(u.end_s * track.rate)])
            heard.append(Utterance(u.start_s, u.end_s, self.transcriber.transcribe(piece).strip()))
        return speech_s, heard

    def classify(self, track: AudioTrack) -> AudioResult:
        speech_s, heard = self.transcribe(track)
        return self.judge(speech_s, heard)

    def judge(self, speech_s: float, heard: Sequence[Utterance]) -> AudioResult:
        best: dict[str, AudioFinding] = {}
        severity = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}
        for text in _chunks(heard):
            for finding in self.text.classify(text).findings:
                if finding.decision is Decision.ALLOW:
                    continue
                name = finding.category.name
                current = best.get(name)
                if current is None or (severity[finding.decision], finding.score) > (
                        severity[current.decision], current.finding.score):
                    best[name] = AudioFinding(finding, _place(finding, heard))
        findings = sorted(best.values(), key=lambda f: (-severity[f.decision], -f.finding.score))
        scores = {f.category: round(float(f.finding.score), 4) for f in findings}
        return AudioResult(combine([f.decision for f in findings]), speech_s, tuple(heard), tuple(findings),
                           scores, self.version)


@lru_cache(maxsize=4)
def _vad(path: str) -> SileroVad:
    return SileroVad(path)


def vad_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The VAD's record: ``path``, else GL_VAD_MODEL, else the silero-vad wheel's sequence model."""
    shipped = bundled(
        "voice-activity", "voice activity detector", distribution="silero-vad", module="silero_vad",
        relative=f"data/{VAD_FILE}", pinned_version=SILERO_VERSION, sha256=SILERO_SEQUENCE_SHA256,
        version=f"silero-vad-{SILERO_VERSION}", licence="MIT", licence_class=LicenceClass.PERMISSIVE,
        variable=VAD_MODEL_ENV, load=SileroVad, licence_note="silero-vad's LICENSE, which covers its models")
    chosen = value_of(VAD_MODEL_ENV, path)
    if is_shipped(chosen, shipped):
        return shipped
    return configured("voice-activity", shipped.role, chosen, variable=VAD_MODEL_ENV,
                      version=f"silero-vad-{Path(chosen).stem}", load=SileroVad)


def load_vad(path: str | os.PathLike[str] | None = None) -> SileroVad:
    """``path``, else GL_VAD_MODEL, else the silero-vad wheel's sequence model; once per process."""
    return _vad(os.fspath(vad_model_file(path).path))


def default_text_classifier() -> TextClassifier:
    """The prompt classifier (terms + sentence embeddings), the same one that judges prompts."""
    from safety.prompt_classifier import load_prompt_classifier

    return load_prompt_classifier()


def load_audio_classifier(text: TextClassifier | None = None, speech_model: str | None = None) -> AudioClassifier:
    """Silero VAD, the configured transcriber (``app.kit.speech.load_transcriber``) and ``text`` (default:
    the prompt classifier). The models are loaded once per process; this object is cheap."""
    return AudioClassifier(load_vad(), load_transcriber(speech_model), text or default_text_classifier())


def audio_classifier_version() -> str:
    """``load_audio_classifier().version`` without loading a model (from the records)."""
    from safety.prompt_classifier import prompt_classifier_version

    return _version(vad_model_file().tag, speech_model_file().tag, prompt_classifier_version())
