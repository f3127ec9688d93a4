"""Speech to text, one way for every domain: likeness hears challenge digits, safety hears what a
rendered video says.

Audio arrives as ``app.kit.media.AudioTrack`` (16 kHz mono int16). Two engines, both offline:

* pocketsphinx (default): CMU's English acoustic model, dictionary and language model ship inside
  the ``pocketsphinx`` wheel. ``PocketsphinxDecoder`` decodes a track with either the free English
  LM (``PocketsphinxTranscriber``: open vocabulary, rough) or a JSGF grammar (likeness constrains it
  to digit words). One decoder per configuration, reset to its initial cepstral mean before each
  track so results never depend on earlier calls; decodes are serialised by a lock.
* Whisper: an OpenAI Whisper checkpoint from a local file (``GL_SPEECH_MODEL=/path/tiny.en.pt``, one
  an operator downloaded), run with ``openai-whisper`` (the ``speech`` extra) on CPU. Loaded once per
  process per path (``load_whisper``) and shared by every domain; no network, no download.

``load_transcriber()`` picks Whisper when ``GL_SPEECH_MODEL`` is set, else pocketsphinx's free LM.
A configured model that cannot be loaded raises ``SpeechModelError`` naming the path: never a
silent fallback to another engine.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from app.config import setting
from app.kit.files import sha256_of
from app.kit.media import SAMPLE_RATE, AudioTrack
from app.model_files import LicenceClass, ModelFile, bundled, configured, value_of

MODEL_ENV = "GL_SPEECH_MODEL"
#: pocketsphinx's US English model (acoustic model, dictionary, language models), recorded from the
#: pocketsphinx 5.1.1 wheel: sha256 of its files' paths and hashes (app.model_files.digest).
POCKETSPHINX_VERSION = "5.1.1"
POCKETSPHINX_EN_US_SHA256 = "52497f3603ebc982bda0ad8ebd5ea2a15c411b6aad4e5efab667dfe4b9a55eb3"
#: Tracks shorter than this hold no words worth decoding (pocketsphinx needs a few frames).
MIN_DECODE_S = 0.1


@dataclass(frozen=True)
class SpeechSegment:
    """Where someone speaks, in seconds of the media clock (voice activity detectors return these)."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class SpeechModelError(RuntimeError):
    """A configured speech model cannot be loaded. code: ``speech_model_missing``, ``speech_model_invalid``."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):
        return (type(self), (self.code, self.message))


class Transcriber(Protocol):
    name: str

    @property
    def tag(self) -> str:
        """Recorded on verdicts: the engine and its exact model."""

    def transcribe(self, track: AudioTrack) -> str: ...


# --------------------------------------------------------------------------------------------
# pocketsphinx


class PocketsphinxDecoder:
    """pocketsphinx's US English model with the free LM (``jsgf=None``) or a JSGF grammar.

    ``decode`` returns the words of the best hypothesis for the whole track as one utterance;
    alternative pronunciations ("zero(2)") come back as the plain word.
    """

    def __init__(self, *, jsgf: str | None = None, wip: float | None = None, model_dir: Path | None = None):
        self.jsgf, self.wip = jsgf, wip
        self.model_dir = model_dir
        self._lock = threading.Lock()
        self._decoder = None
        self._initial_cmn: str | None = None

    def _load(self):
        import pocketsphinx

        model = self.model_dir or pocketsphinx_model_file().path
        options = {"hmm": str(model / "en-us"), "dict": str(model / "cmudict-en-us.dict"),
                   "samprate": SAMPLE_RATE, "loglevel": "FATAL"}
        if self.wip is not None:
            options["wip"] = self.wip
        if self.jsgf is None:
            options["lm"] = str(model / "en-us.lm.bin")
            decoder = pocketsphinx.Decoder(**options)
        else:
            decoder = pocketsphinx.Decoder(lm=None, **options)
            decoder.add_jsgf_string("grammar", self.jsgf)
            decoder.activate_search("grammar")
        self._initial_cmn = decoder.get_cmn()
        self._decoder = decoder
        return decoder

    def decode(self, track: AudioTrack) -> list[str]:
        if len(track.samples) < int(MIN_DECODE_S * track.rate):
            return []
        with self._lock:
            decoder = self._decoder or self._load()
            decoder.set_cmn(self._initial_cmn)
            decoder.start_utt()
            decoder.process_raw(track.samples.tobytes(), no_search=False, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            words = hyp.hypstr.split() if hyp is not None else []
        return [w.split("(", 1)[0] for w in words]


class PocketsphinxTranscriber:
    """Open-vocabulary English with pocketsphinx's free language model. Rough (on espeak-ng clips it
    hears "so your naked body" for "show me your naked body"), fast (~0.15 s per second of speech
    on one core), and always there."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        self._decoder = PocketsphinxDecoder()

    @property
    def tag(self) -> str:
        return pocketsphinx_model_file().tag

    def transcribe(self, track: AudioTrack) -> str:
        return " ".join(self._decoder.decode(track))


# --------------------------------------------------------------------------------------------
# Whisper



class WhisperTranscriber:
    """A Whisper checkpoint from a local file (the format ``whisper.load_model`` reads), on CPU."""

    def __init__(self, path: str | os.PathLike[str]):
        path = Path(path)
        if not path.is_file():
            raise SpeechModelError("speech_model_missing", f"no Whisper checkpoint at {path}")
        try:
            import whisper
        except ImportError as exc:
            raise SpeechModelError("speech_model_invalid",
                                   f"{MODEL_ENV} is set but openai-whisper is not installed "
                                   "(pip install 'greenlight[speech]')") from exc
        try:
            self.model = whisper.load_model(str(path), device="cpu")
        except Exception as exc:  # torch raises many types for a bad file
            raise SpeechModelError("speech_model_invalid", f"{path} is not a Whisper checkpoint: {exc}") from exc
        self.path = path
        self.sha256 = sha256_of(path)
        self.name = f"whisper:{path.name}"
        self._lock = threading.Lock()  # one decode at a time per model: torch threads are the parallelism

    @property
    def tag(self) -> str:
        return f"whisper-{self.path.stem}:{self.sha256[:8]}"

    def transcribe(self, track: AudioTrack) -> str:
        if len(track.samples) < int(MIN_DECODE_S * track.rate):
            return ""
        audio = track.samples.astype(np.float32) / 32768.0
        with self._lock:
            result = self.model.transcribe(audio, language="en", fp16=False, temperature=0.0,
                                           condition_on_previous_text=False, without_timestamps=True)
        return str(result["text"]).strip()


@lru_cache(maxsize=4)
def _whisper(path: str) -> WhisperTranscriber:
    return WhisperTranscriber(path)


def load_whisper(path: str | os.PathLike[str]) -> WhisperTranscriber:
    """The checkpoint at ``path``, loaded once per process (every domain shares it)."""
    return _whisper(os.fspath(Path(path).resolve()))


@lru_cache(maxsize=1)
def _pocketsphinx() -> PocketsphinxTranscriber:
    return PocketsphinxTranscriber()


def load_transcriber(path: str | os.PathLike[str] | None = None) -> Transcriber:
    """Whisper from ``path``, else from GL_SPEECH_MODEL; else pocketsphinx's free LM. Cached per process."""
    chosen = path or setting(MODEL_ENV)
    return load_whisper(chosen) if chosen else _pocketsphinx()


def _load_pocketsphinx(model_dir: Path) -> PocketsphinxDecoder:
    decoder = PocketsphinxDecoder(model_dir=model_dir)
    decoder._load()  # noqa: SLF001 - the decoder loads lazily; a check loads it now
    return decoder


def pocketsphinx_model_file() -> ModelFile:
    """pocketsphinx's US English model directory inside its wheel."""
    return bundled(
        "speech-to-text", "speech recogniser", distribution="pocketsphinx", module="pocketsphinx",
        relative="model/en-us", pinned_version=POCKETSPHINX_VERSION, sha256=POCKETSPHINX_EN_US_SHA256,
        version=f"pocketsphinx-{POCKETSPHINX_VERSION}-en-us", licence="BSD-2-Clause",
        licence_class=LicenceClass.PERMISSIVE, variable=MODEL_ENV, load=_load_pocketsphinx,
        licence_note="pocketsphinx's LICENSE (CMU) and the acoustic model's README (Alpha Cephei)")


def speech_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The transcriber's record: a Whisper checkpoint (``path``, else GL_SPEECH_MODEL), else pocketsphinx's."""
    chosen = value_of(MODEL_ENV, path)
    if not chosen:
        return pocketsphinx_model_file()
    return configured("speech-to-text", "speech recogniser", chosen, variable=MODEL_ENV,
                      version=f"whisper-{Path(chosen).stem}", load=WhisperTranscriber,
                      licence_note="OpenAI's released Whisper weights are MIT: declare speech-to-text=MIT "
                                   "in GL_MODEL_DECLARED_LICENCES for one of those")


def clear_caches() -> None:
    """Forget loaded models (tests that change GL_SPEECH_MODEL)."""
    _whisper.cache_clear()
    _pocketsphinx.cache_clear()
