"""app/kit/speech.py on real audio: pocketsphinx's free LM and a grammar, and Whisper's real load path
(a checkpoint with tiny random weights, built by the session fixture `tiny_whisper`)."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app.kit import speech
from app.kit.media import AudioTrack, load_audio
from app.kit.speech import (
    PocketsphinxDecoder, PocketsphinxTranscriber, SpeechModelError, WhisperTranscriber, load_transcriber,
    load_whisper,
)
from tests.likeness.liveness.fixtures.builders import pad, read_pcm
from tests.safety.fixtures import SPEECH


@pytest.fixture(autouse=True)
def _fresh_models(monkeypatch):
    monkeypatch.delenv("GL_SPEECH_MODEL", raising=False)
    speech.clear_caches()
    yield
    speech.clear_caches()


def words_of(text: str) -> set[str]:
    return set(text.split())


def test_pocketsphinx_free_lm_transcribes_english():
    text = PocketsphinxTranscriber().transcribe(load_audio(SPEECH / "the_garden_was_quiet_this_mornin.us150.ogg"))
    assert len(words_of(text) & {"the", "garden", "was", "quiet", "this", "morning"}) >= 5, text
    heard = PocketsphinxTranscriber().transcribe(load_audio(SPEECH / "here_is_how_to_commit_suicide.gb170.ogg"))
    assert "commit suicide" in heard


def test_pocketsphinx_results_do_not_depend_on_earlier_calls():
    transcriber = PocketsphinxTranscriber()
    a = load_audio(SPEECH / "please_remember_to_vote_on_elect.us150.ogg")
    b = AudioTrack(pad(read_pcm("noise.flac"), 0.5, 0.5))
    first = transcriber.transcribe(a)
    transcriber.transcribe(b)
    assert transcriber.transcribe(a) == first


def test_pocketsphinx_is_safe_to_share_between_threads():
    transcriber = PocketsphinxTranscriber()
    tracks = [load_audio(SPEECH / name) for name in ("show_me_your_naked_body.us150.ogg",
                                                     "the_football_team_celebrates_a_g.us150.ogg")]
    alone = [transcriber.transcribe(t) for t in tracks]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(transcriber.transcribe, tracks * 3))
    assert together == alone * 3


def test_very_short_tracks_are_heard_as_nothing():
    # (Longer digital silence is not: the free LM may "hear" a word in it, so safety/audio.py only
    # ever transcribes what its VAD calls speech.)
    transcriber = PocketsphinxTranscriber()
    assert transcriber.transcribe(AudioTrack(np.zeros(100, np.int16))) == ""
    assert transcriber.transcribe(AudioTrack(np.zeros(0, np.int16))) == ""


def test_a_grammar_decoder_hears_only_grammar_words():
    grammar = "#JSGF V1.0;\ngrammar g;\npublic <g> = (yes | no)+;\n"
    words = PocketsphinxDecoder(jsgf=grammar).decode(load_audio(SPEECH / "the_garden_was_quiet_this_mornin.us150.ogg"))
    assert words and set(words) <= {"yes", "no"}


def test_pocketsphinx_tag_names_the_engine_and_model():
    assert PocketsphinxTranscriber().tag.startswith("pocketsphinx-5.")


def test_whisper_loads_from_a_local_checkpoint_and_decodes(tiny_whisper):
    path, dims = tiny_whisper
    transcriber = WhisperTranscriber(path)
    assert transcriber.name == "whisper:tiny-random.pt"
    assert transcriber.model.dims == dims
    assert transcriber.tag.startswith("whisper-tiny-random:") and len(transcriber.tag.split(":")[1]) == 8
    text = transcriber.transcribe(AudioTrack(read_pcm("words.flac")))
    assert isinstance(text, str)  # random weights: what it hears is noise
    assert transcriber.transcribe(AudioTrack(np.zeros(10, np.int16))) == ""


def test_whisper_is_loaded_once_per_path_and_selected_by_gl_speech_model(tiny_whisper, monkeypatch):
    path = tiny_whisper[0]
    assert load_whisper(path) is load_whisper(str(path))
    assert isinstance(load_transcriber(), PocketsphinxTranscriber)
    monkeypatch.setenv("GL_SPEECH_MODEL", str(path))
    assert load_transcriber() is load_whisper(path)
    assert load_transcriber(path).name == "whisper:tiny-random.pt"


def test_a_bad_whisper_path_is_a_clear_error_never_a_fallback(tmp_path, monkeypatch):
    with pytest.raises(SpeechModelError) as missing:
        WhisperTranscriber(tmp_path / "nope.pt")
    assert missing.value.code == "speech_model_missing" and "nope.pt" in str(missing.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("GL_SPEECH_MODEL", str(junk))
    with pytest.raises(SpeechModelError) as invalid:
        load_transcriber()
    assert invalid.value.code == "speech_model_invalid"
    copy = pickle.loads(pickle.dumps(invalid.value))  # queue jobs carry exceptions between processes
    assert (copy.code, str(copy)) == (invalid.value.code, str(invalid.value))
