"""Which digits were spoken? Two recognisers behind one interface, both on app/kit/speech.py.

* ``PocketsphinxDigits`` (default): pocketsphinx's English model, constrained to a digits grammar
  (``likeness.liveness.audio.recognise_digits``). Small, offline, CPU-cheap.
* ``WhisperDigits``: free-form transcription by the Whisper checkpoint at ``GL_SPEECH_MODEL``
  (``app.kit.speech.load_whisper``, shared with every other domain that listens), then the digits are
  read out of the text.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Protocol

from app.config import setting
from app.kit.media import AudioTrack
from app.kit.speech import MODEL_ENV, load_whisper
from likeness.liveness.audio import recognise_digits
from likeness.liveness.challenge import DIGIT_WORDS


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
    """Raises ``app.kit.speech.SpeechModelError`` when the checkpoint cannot be loaded."""

    def __init__(self, path: str | os.PathLike[str]):
        self.transcriber = load_whisper(path)
        self.name = self.transcriber.name

    def transcribe(self, track: AudioTrack) -> str:
        return self.transcriber.transcribe(track)

    def digits(self, track: AudioTrack) -> list[int]:
        return digits_from_text(self.transcribe(track))


@lru_cache(maxsize=4)
def _load(path: str | os.PathLike[str] | None) -> DigitRecogniser:
    return WhisperDigits(path) if path else PocketsphinxDigits()


def load_recogniser(path: str | None = None) -> DigitRecogniser:
    """`path`, else GL_SPEECH_MODEL, else pocketsphinx. Cached per process."""
    return _load(path or setting(MODEL_ENV))
