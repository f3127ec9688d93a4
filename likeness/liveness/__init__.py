"""Liveness for cameo enrolment: a random spoken-digits + head-turn challenge, checked offline.

``challenge`` draws the challenge, ``audio`` finds speech in the upload's sound and recognises
the digits (pocketsphinx), ``motion`` flags still or looped video. Decoding the upload (frames
and 16 kHz audio) is ``app.kit.media``'s; the face side (identity across frames, head yaw) builds on
``app.kit.media.sample_frames``.
"""

from likeness.liveness.audio import (
    AudioVerdict, check_spoken_phrase, phrase_match, recognise_digits, speech_segments,
)
from likeness.liveness.challenge import DIGIT_WORDS, Challenge, new_challenge
from likeness.liveness.motion import MotionReport, motion_report

__all__ = [
    "DIGIT_WORDS", "Challenge", "new_challenge",
    "speech_segments",
    "recognise_digits", "phrase_match", "AudioVerdict", "check_spoken_phrase",
    "MotionReport", "motion_report",
]
