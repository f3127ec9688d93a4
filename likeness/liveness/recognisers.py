"""Which digits were spoken? Two recognisers behind one interface.

* ``PocketsphinxDigits`` (default): CMU pocketsphinx with its English model, which ships inside the
  pocketsphinx wheel, constrained to a digits grammar. Small, offline, CPU-cheap.
* ``WhisperDigits``: an OpenAI Whisper checkpoint from a local file (``GL_SPEECH_MODEL=/path/x.pt``,
  e.g. ``tiny.en.pt`` an operator downloaded), run with ``openai-whisper`` (the ``speech`` extra).
  Free-form transcription, then the digits are read out of the text.
"""

from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from app.media import AudioTrack
from likeness.liveness.audio import recognise_digits
from likeness.liveness.challenge import DIGIT_WORDS


class SpeechModelError(RuntimeError):
    """A configured speech model cannot be loaded. code: speech_model_missing, speech_model_invalid."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class DigitRecogniser(Protocol):
    name: str

    def digits(self, track: AudioTrack) -> list[int]: ...


class PocketsphinxDigits:
    name = "pocketsphinx-digits"

    def digits(self, track: AudioTrack) -> list[int]:
        return recognise_digits(track)


_WORDS = {word: d for d, word in enumerate(DIGIT_WORDS)} | {"oh": 0, "o": 0, "nought": 0}
_TOKEN = re.compile(r"[a-z]+|\d")


def digits_from_text(text: str) -> list[int]:
    """Digits in a transcript, spelled or written: "Seven, 3 nine-one 4." -> [7, 3, 9, 1, 4].
    Other words are ignored (they are not digits the challenge asked for)."""
    digits = []
    for token in _TOKEN.findall(text.casefold()):
        if token.isdigit():
            digits.append(int(token))
        elif token in _WORDS:
            digits.append(_WORDS[token])
    return digits


class WhisperDigits:
    def __init__(self, path: str | os.PathLike[str]):
        path = Path(path)
        if not path.is_file():
            raise SpeechModelError("speech_model_missing", f"no Whisper checkpoint at {path}")
        try:
            import whisper
        except ImportError as exc:
            raise SpeechModelError("speech_model_invalid",
                                   "GL_SPEECH_MODEL is set but openai-whisper is not installed "
                                   "(pip install 'greenlight[speech]')") from exc
        try:
            self.model = whisper.load_model(str(path), device="cpu")
        except Exception as exc:  # torch raises many types for a bad file
            raise SpeechModelError("speech_model_invalid", f"{path} is not a Whisper checkpoint: {exc}") from exc
        self.name = f"whisper:{path.name}"
        self._lock = threading.Lock()  # one decode at a time per model: torch threads are the parallelism

    def transcribe(self, track: AudioTrack) -> str:
        audio = track.samples.astype(np.float32) / 32768.0
        with self._lock:
            result = self.model.transcribe(audio, language="en", fp16=False, temperature=0.0,
                                           condition_on_previous_text=False, without_timestamps=True)
        return str(result["text"])

    def digits(self, track: AudioTrack) -> list[int]:
        return digits_from_text(self.transcribe(track))


@lru_cache(maxsize=4)
def _load(path: str | None) -> DigitRecogniser:
    return WhisperDigits(path) if path else PocketsphinxDigits()


def load_recogniser(path: str | None = None) -> DigitRecogniser:
    """`path`, else GL_SPEECH_MODEL, else pocketsphinx. Cached per process."""
    return _load(path or os.environ.get("GL_SPEECH_MODEL") or None)
