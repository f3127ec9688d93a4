"""Dialogue quoted in a prompt is spoken (eSpeak NG from the espeakng-loader wheel) into the
video's soundtrack, where the platform's own transcriber hears it."""

from __future__ import annotations

import numpy as np

from app.kit.media import load_audio
from app.kit.speech import load_transcriber
from generator.render import RenderSettings, render_to_mp4
from generator.speech import MAX_CHARS, dialogue, speak


def test_only_quoted_lines_are_dialogue():
    assert dialogue('a red ball falls and says "thank you for watching"') == "thank you for watching"
    assert dialogue('two cubes: “hello” and «see you»') == "hello see you"
    assert dialogue("a red ball falls") == "" and dialogue('an unclosed "quote') == ""
    assert len(dialogue('"' + "la " * 200 + '"')) == MAX_CHARS


def test_speech_is_audible_and_at_the_asked_rate():
    voice = speak("the museum opens at nine in the morning", 16000)
    assert voice.dtype == np.float32 and 1.0 < voice.size / 16000 < 6.0
    assert 0.05 < float(np.abs(voice).max()) <= 1.0
    assert speak("   ", 16000).size == 0
    # eSpeak NG is not bit-exact from one call to the next (measured: a dozen samples in 17,000)
    a, b = speak("thank you for watching", 16000), speak("thank you for watching", 16000)
    assert abs(a.size - b.size) < 0.01 * a.size


def test_a_rendered_video_says_the_prompts_dialogue(tmp_path):
    prompt = 'a red ball falls and says "thank you for watching and see you next time"'
    result = render_to_mp4(prompt, tmp_path / "said.mp4", seed=2, settings=RenderSettings(fps=12, seconds=4.0))
    heard = load_transcriber().transcribe(load_audio(result.path))
    assert len({"thank", "watching", "next", "time"} & set(heard.split())) >= 2, heard
    silent = render_to_mp4("a red ball falls", tmp_path / "silent.mp4", seed=2,
                           settings=RenderSettings(fps=12, seconds=4.0))
    assert not {"thank", "watching"} & set(load_transcriber().transcribe(load_audio(silent.path)).split())
