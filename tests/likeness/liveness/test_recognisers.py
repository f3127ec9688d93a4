"""Digit recognisers behind one interface, on app/kit/speech.py (whose own tests load and decode the
Whisper checkpoint and the pocketsphinx models: tests/app/test_speech.py)."""

from __future__ import annotations

import pytest

from app.kit.media import AudioTrack
from app.kit.speech import SpeechModelError, load_whisper
from likeness.liveness.recognisers import PocketsphinxDigits, WhisperDigits, digits_from_text, load_recogniser
from tests.likeness.liveness.fixtures.builders import read_pcm


@pytest.mark.parametrize("text,digits", [
    ("Seven three nine one four.", [7, 3, 9, 1, 4]),
    ("7, 3, 9, 1, 4", [7, 3, 9, 1, 4]),
    ("73914", [7, 3, 9, 1, 4]),
    ("Oh, two eight — zero five six!", [0, 2, 8, 0, 5, 6]),
    ("the garden was quiet this morning", []),
    ("SEVEN-THREE", [7, 3]),
    ("someone", []),  # "one" inside a word is not a digit
])
def test_digits_are_read_out_of_a_transcript(text, digits):
    assert digits_from_text(text) == digits


def test_pocketsphinx_is_the_default(monkeypatch):
    monkeypatch.delenv("GL_SPEECH_MODEL", raising=False)
    recogniser = load_recogniser()
    assert isinstance(recogniser, PocketsphinxDigits)
    assert recogniser.digits(AudioTrack(read_pcm("digits_73914.flac"))) == [7, 3, 9, 1, 4]


def test_whisper_digits_listen_through_the_shared_whisper_model(tiny_whisper):
    path, dims = tiny_whisper
    recogniser = WhisperDigits(path)
    assert recogniser.name == "whisper:tiny-random.pt"
    # One model per process, whichever domain asked first: safety's transcripts use the same one.
    assert recogniser.transcriber is load_whisper(path)
    assert recogniser.transcriber.model.dims == dims
    track = AudioTrack(read_pcm("digits_73914.flac"))
    text = recogniser.transcribe(track)
    assert isinstance(text, str)
    assert recogniser.digits(track) == digits_from_text(text)


def test_gl_speech_model_selects_whisper(tiny_whisper, monkeypatch):
    monkeypatch.setenv("GL_SPEECH_MODEL", str(tiny_whisper[0]))
    assert load_recogniser().name == "whisper:tiny-random.pt"


def test_a_bad_speech_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(SpeechModelError) as missing:
        WhisperDigits(tmp_path / "nope.pt")
    assert missing.value.code == "speech_model_missing"
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(SpeechModelError) as invalid:
        WhisperDigits(junk)
    assert invalid.value.code == "speech_model_invalid"
