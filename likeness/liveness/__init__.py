"""Liveness for cameo enrolment: a random spoken-digits + head-turn challenge, checked offline.

``challenge`` draws the challenge, ``audio`` decodes the upload's sound, finds speech and
recognises the digits (pocketsphinx), ``motion`` samples frames and flags still or looped video.
The face side (identity across frames, head yaw) builds on ``motion.sample_video_frames``.
"""

from likeness.liveness.audio import (
    AudioTrack, AudioVerdict, MediaDecodeError, SpeechSegment, check_spoken_phrase, load_audio,
    phrase_match, recognise_digits, speech_segments,
)
from likeness.liveness.challenge import DIGIT_WORDS, Challenge, new_challenge
from likeness.liveness.motion import MotionReport, motion_report, sample_video_frames

__all__ = [
    "DIGIT_WORDS", "Challenge", "new_challenge",
    "MediaDecodeError", "AudioTrack", "load_audio", "SpeechSegment", "speech_segments",
    "recognise_digits", "phrase_match", "AudioVerdict", "check_spoken_phrase",
    "MotionReport", "sample_video_frames", "motion_report",
]
