"""safety/audio.py on real audio: Silero VAD (the wheel's ONNX model), pocketsphinx or a Whisper
checkpoint, and a text classifier over the transcript. Speech is espeak-ng clips (committed)."""

from __future__ import annotations

import numpy as np
import pytest

from app.kit.media import AudioTrack, load_audio
from app.kit.speech import PocketsphinxTranscriber, SpeechSegment, load_whisper
from app.stage import Decision
from safety.audio import (
    MAX_TEXT_CHARS, AudioClassifier, SileroVad, TermClassifier, Utterance, VadModelError, _chunks,
    load_vad, segments_from_probabilities, silero_model_path, utterances,
)
from safety.terms import load_policy
from tests.likeness.liveness.fixtures.builders import pad, read_pcm, silence
from tests.safety.fixtures import SPEECH

NAKED = "show_me_your_naked_body.us150.ogg"
BENIGN = "the_football_team_celebrates_a_g.us150.ogg"


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return load_vad()


@pytest.fixture(scope="module")
def terms() -> TermClassifier:
    return TermClassifier(load_policy())


class Listening:
    """A real transcriber that also records what it was asked to transcribe."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.name, self.tag = inner.name, inner.tag

    def transcribe(self, track):
        self.calls.append(track.duration_s)
        return self.inner.transcribe(track)


class Reading:
    """A real text classifier that also records the texts it judged."""

    def __init__(self, inner):
        self.inner, self.texts, self.version = inner, [], inner.version

    def classify(self, text):
        self.texts.append(text)
        return self.inner.classify(text)


def clip(name: str, before_s: float = 0.0, after_s: float = 0.0) -> AudioTrack:
    return AudioTrack(pad(load_audio(SPEECH / name).samples, before_s, after_s))


# --- voice activity ------------------------------------------------------------------------------


def test_vad_finds_the_speech_in_real_clips_and_its_timing(vad):
    track = AudioTrack(pad(read_pcm("words.flac"), 1.0, 1.0))  # "the garden was quiet this morning"
    (segment,) = vad.segments(track)
    assert 0.9 <= segment.start_s <= 1.2 and 2.9 <= segment.end_s <= 3.4
    for name in (NAKED, BENIGN, "i_am_going_to_kill_you.gb170.ogg"):
        assert sum(s.duration_s for s in vad.segments(clip(name, 0.5, 0.5))) > 0.8, name


def test_vad_finds_no_speech_in_silence_or_noise(vad):
    rng = np.random.default_rng(0)
    quiet = {
        "silence": silence(3.0),
        "room tone": read_pcm("noise.flac"),
        "white noise": np.clip(rng.normal(0, 3000, 48000), -32768, 32767).astype(np.int16),
        "hum": (3000 * np.sin(2 * np.pi * 50 * np.arange(48000) / 16000)).astype(np.int16),
    }
    for name, samples in quiet.items():
        assert vad.segments(AudioTrack(samples)) == [], name
        assert vad.probabilities(AudioTrack(samples)).max() < 0.5, name


@pytest.mark.filterwarnings("ignore::DeprecationWarning:silero_vad")  # its importlib.resources use
def test_vad_matches_silero_vads_own_streaming_model_and_timestamps(vad):
    """The sequence export + our segmentation give what silero-vad's package gives (it needs torch)."""
    torch = pytest.importorskip("torch")
    from silero_vad import get_speech_timestamps, load_silero_vad

    reference = load_silero_vad(onnx=True)
    for samples in (pad(read_pcm("words.flac"), 1.0, 1.0), np.concatenate([read_pcm("digits_73914.flac"), silence(1.2),
                                                                           read_pcm("words.flac")])):
        track = AudioTrack(samples)
        audio = torch.from_numpy(samples.astype(np.float32) / 32768.0)
        expected = get_speech_timestamps(audio, reference, return_seconds=False)
        got = vad.segments(track)
        assert [(round(s.start_s * 16000), round(s.end_s * 16000)) for s in got] == \
            [(e["start"], e["end"]) for e in expected]
        streaming = reference.audio_forward(audio, 16000).numpy().reshape(-1)
        assert np.allclose(vad.probabilities(track), streaming, atol=1e-5)


def test_segmentation_rules():
    p = lambda *runs: [v for value, n in runs for v in [value] * n]  # noqa: E731  (value, frames)
    n = lambda probs: len(probs) * 512  # noqa: E731
    # 5 frames (160 ms) of speech is under 250 ms: dropped
    short = p((0, 10), (0.9, 5), (0, 10))
    assert segments_from_probabilities(short, n(short)) == []
    # a 2-frame dip (64 ms) under 100 ms of silence does not split; a 10-frame one does
    probs = p((0, 10), (0.9, 20), (0.1, 2), (0.9, 20), (0.1, 10), (0.9, 20), (0, 10))
    segs = segments_from_probabilities(probs, n(probs))
    assert len(segs) == 2
    assert segs[0].start_s == pytest.approx(10 * 0.032 - 0.03, abs=1e-3)
    # speech running to the end of the track ends with it
    tail = p((0, 5), (0.9, 20))
    assert segments_from_probabilities(tail, n(tail))[-1].end_s == pytest.approx(25 * 0.032)


def test_utterances_join_close_segments_and_add_context():
    segs = [SpeechSegment(1.0, 2.0), SpeechSegment(2.3, 3.0), SpeechSegment(4.0, 4.5)]
    assert utterances(segs, 4.6) == [SpeechSegment(0.75, 3.25), SpeechSegment(3.75, 4.6)]


# --- the classifier ---------------------------------------------------------------------------


def test_spoken_sexual_content_is_blocked_with_what_was_heard_and_when(vad, terms):
    classifier = AudioClassifier(vad, PocketsphinxTranscriber(), terms)
    result = classifier.classify(clip(NAKED, 1.0, 0.5))
    assert result.decision is Decision.BLOCK
    (finding,) = result.findings
    assert finding.category == "sexual" and "naked" in result.transcript
    details = finding.details()
    assert details["term"] == "naked" and "naked" in details["heard"]
    assert 0.5 <= details["at_s"] <= 1.1 and details["until_s"] > details["at_s"]
    assert result.scores == {"sexual": 1.0} and result.speech_s > 1.0
    assert finding.message().startswith("the video's speech at ")


def test_benign_speech_is_transcribed_and_allowed(vad, terms):
    result = AudioClassifier(vad, PocketsphinxTranscriber(), terms).classify(clip(BENIGN, 0.5, 0.5))
    assert result.decision is Decision.ALLOW and result.findings == () and result.scores == {}
    assert {"football", "team"} <= set(result.transcript.split())


def test_only_speech_is_transcribed_and_the_transcript_goes_to_the_text_classifier(vad, terms):
    listening, reading = Listening(PocketsphinxTranscriber()), Reading(terms)
    classifier = AudioClassifier(vad, listening, reading)
    nothing = classifier.classify(AudioTrack(np.concatenate([silence(2.0), read_pcm("noise.flac")])))
    assert (nothing.decision, nothing.speech_s, nothing.utterances, listening.calls, reading.texts) == \
        (Decision.ALLOW, 0.0, (), [], [])
    two = AudioTrack(np.concatenate([silence(0.5), load_audio(SPEECH / BENIGN).samples, silence(2.0),
                                     load_audio(SPEECH / NAKED).samples, silence(0.5)]))
    result = classifier.classify(two)
    assert len(listening.calls) == 2 and max(listening.calls) < 5.0  # two utterances, not the whole track
    assert reading.texts == [result.transcript] and result.decision is Decision.BLOCK
    assert result.findings[0].heard == result.utterances[1]  # placed in the second utterance


def test_a_whisper_checkpoint_can_do_the_listening(vad, terms, tiny_whisper):
    classifier = AudioClassifier(vad, load_whisper(tiny_whisper[0]), terms)
    assert ":whisper-tiny-random:" in classifier.version
    result = classifier.classify(clip(BENIGN, 0.5, 0.5))
    assert len(result.utterances) == 1 and isinstance(result.utterances[0].text, str)


def test_long_transcripts_are_judged_in_pieces():
    heard = [Utterance(i, i + 1, "word " * 300) for i in range(10)]
    chunks = _chunks(heard)
    assert all(len(c) <= MAX_TEXT_CHARS for c in chunks) and len(chunks) >= 8
    assert sum(c.count("word") for c in chunks) == 3000
    assert _chunks([Utterance(0, 1, "x" * (MAX_TEXT_CHARS * 2 + 5))]) == ["x" * MAX_TEXT_CHARS] * 2 + ["x" * 5]


def test_the_term_classifier_gives_one_finding_per_category(terms):
    result = terms.classify("a naked suicide bomber with a nude pipe bomb")
    assert result.decision is Decision.BLOCK
    by = {f.category.name: f for f in result.findings}
    assert set(by) >= {"sexual", "extremism", "dangerous_acts"}
    assert set(by["sexual"].terms) == {"naked", "nude"}
    assert terms.classify("a quiet garden").findings == ()


def test_the_version_names_every_model(vad, terms):
    version = AudioClassifier(vad, PocketsphinxTranscriber(), terms).version
    assert version.startswith("audio-1:silero-vad-6.2.3:") and ":pocketsphinx-5." in version
    assert version.endswith(f":terms-{load_policy().version}")


def test_a_missing_or_wrong_vad_model_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(VadModelError, match="nope.onnx"):
        SileroVad(tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(VadModelError, match="junk.onnx"):
        SileroVad(tmp_path / "junk.onnx")
    with pytest.raises(VadModelError, match="not Silero VAD's sequence model"):
        SileroVad(silero_model_path().with_name("silero_vad.onnx"))  # the streaming export
    monkeypatch.setenv("GL_VAD_MODEL", str(tmp_path / "elsewhere.onnx"))
    with pytest.raises(VadModelError, match="elsewhere.onnx"):
        load_vad()
