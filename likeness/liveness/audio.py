"""Audio side of the liveness check: find speech, recognise the spoken digits.

Decoding the upload into a 16 kHz mono ``AudioTrack`` is ``app.kit.media.load_audio``'s. Everything
runs offline on CPU:

* voice activity with pocketsphinx's ``Endpointer`` (a WebRTC-style VAD with a decision window);
* recognition with pocketsphinx's English acoustic model and dictionary (shipped inside the
  ``pocketsphinx`` wheel; ``app.kit.speech.PocketsphinxDecoder``) constrained by a digits-only JSGF grammar, so whatever is said is
  read as a sequence of digit words; the challenge is then matched with edit-distance tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pocketsphinx

from app.kit.media import AudioTrack
from app.kit.speech import PocketsphinxDecoder, SpeechSegment
from likeness.liveness.challenge import DIGIT_WORDS, Challenge


# --------------------------------------------------------------------------------------------
# Voice activity




#: Pauses shorter than this between speech regions are bridged (people pause between digits).
MERGE_GAP_S = 0.5
#: pocketsphinx.Vad aggressiveness 0 (LOOSE) .. 3 (STRICT). LOOSE (pocketsphinx's default) keeps
#: soft word onsets; noise is rejected by the energy refinement below, not by a stricter VAD.
VAD_MODE = pocketsphinx.Vad.LOOSE


#: Energy refinement: a VAD region is trimmed to the frames at least this far above the track's
#: noise floor (its quietest NOISE_FLOOR_PERCENTILE % of frames), then kept only if such
#: frames add up to MIN_SPEECH_S. The WebRTC-style VAD alone calls steady noise "speech" once it
#: is loud enough, and holds a region open through noise that follows speech.
ENERGY_MARGIN_DB = 6.0
NOISE_FLOOR_PERCENTILE = 10.0
MIN_SPEECH_S = 0.2
DIGITAL_SILENCE_DB = 10.0  # frame RMS under ~3 LSB
EDGE_PAD_S = 0.06


def _vad_regions(pcm: np.ndarray, rate: int, vad_mode: int) -> list[tuple[float, float]]:
    endpointer = pocketsphinx.Endpointer(vad_mode=vad_mode, sample_rate=rate)
    n = endpointer.frame_bytes // 2
    regions: list[tuple[float, float]] = []
    whole = len(pcm) - len(pcm) % n
    for i in range(0, whole, n):
        speech = endpointer.process(pcm[i:i + n].tobytes())
        if speech is not None and not endpointer.in_speech:  # a region just closed
            regions.append((endpointer.speech_start, endpointer.speech_end))
    if endpointer.in_speech:  # the track ends while someone speaks
        if whole < len(pcm):
            endpointer.end_stream(pcm[whole:].tobytes())
            regions.append((endpointer.speech_start, endpointer.speech_end))
        else:
            regions.append((endpointer.speech_start, len(pcm) / rate))
    return regions


def _frame_energy_db(pcm: np.ndarray, hop: int, smooth: int = 7) -> np.ndarray:
    """Energy (dB) of ``hop``-sample frames, averaged over ``smooth`` frames (noise flickers)."""
    frames = len(pcm) // hop
    x = pcm[:frames * hop].astype(np.float64).reshape(frames, hop)
    energy = 10.0 * np.log10(np.mean(x * x, axis=1) + 1.0)
    if frames >= smooth:
        padded = np.pad(energy, smooth // 2, mode="edge")
        energy = np.convolve(padded, np.ones(smooth) / smooth, mode="valid")
    return energy


def speech_segments(track: AudioTrack, *, vad_mode: int = VAD_MODE,
                    merge_gap_s: float = MERGE_GAP_S) -> list[SpeechSegment]:
    """Speech regions of ``track``: pocketsphinx's ``Endpointer``, refined by energy, short gaps merged.

    Each region the endpointer reports is trimmed to its frames that rise ``ENERGY_MARGIN_DB``
    above the track's noise floor (its quietest audible frames; digital silence does not
    count), widened by ``EDGE_PAD_S``, and dropped when fewer than ``MIN_SPEECH_S`` of such
    frames remain; regions closer than ``merge_gap_s`` are merged.
    """
    pcm, rate = track.samples, track.rate
    if len(pcm) == 0:
        return []
    hop = rate // 100  # 10 ms energy frames
    energy = _frame_energy_db(pcm, hop)
    if len(energy) == 0:
        return []
    audible = energy[energy > DIGITAL_SILENCE_DB]  # a muted stretch is not the room's noise floor
    floor = np.percentile(audible, NOISE_FLOOR_PERCENTILE) if len(audible) else 0.0
    loud = energy > floor + ENERGY_MARGIN_DB
    refined: list[tuple[float, float]] = []
    for start, end in _vad_regions(pcm, rate, vad_mode):
        a, b = max(0, int(start * 100)), min(len(loud), int(math.ceil(end * 100)))
        idx = np.flatnonzero(loud[a:b])
        if len(idx) * hop / rate < MIN_SPEECH_S:
            continue
        s = max(float(start), (a + idx[0]) * hop / rate - EDGE_PAD_S)
        e = min(float(end), (a + idx[-1] + 1) * hop / rate + EDGE_PAD_S)
        refined.append((max(0.0, s), min(track.duration_s, e)))
    merged: list[list[float]] = []
    for start, end in refined:
        if end <= start:
            continue
        if merged and start - merged[-1][1] < merge_gap_s:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [SpeechSegment(round(float(s), 3), round(float(e), 3)) for s, e in merged]


# --------------------------------------------------------------------------------------------
# Recognition

#: Digits only, any count. "oh" is not accepted for zero: the user is shown the word "zero", and
#: with "oh" in the grammar the recogniser inserted spurious zeros on our clips.
DIGITS_JSGF = (
    "#JSGF V1.0;\n"
    "grammar digits;\n"
    "public <digits> = <digit>+;\n"
    "<digit> = " + " | ".join(DIGIT_WORDS) + ";\n"
)
#: Word insertion penalty: lower than pocketsphinx's 0.65 default, which split "seven" into
#: "zero one" more often on synthetic and noisy clips.
WORD_INSERTION_PENALTY = 0.2

_digits_decoder = PocketsphinxDecoder(jsgf=DIGITS_JSGF, wip=WORD_INSERTION_PENALTY)
_WORD_TO_DIGIT = {word: digit for digit, word in enumerate(DIGIT_WORDS)}


def recognise_digits(track: AudioTrack) -> list[int]:
    """The digits heard in ``track`` (pocketsphinx, digits-only grammar, whole track as one utterance).

    The grammar makes any speech come out as digits; non-digit speech therefore yields digits
    that do not match the challenge. One decoder is loaded per process (about 0.1 s) and reset
    to its initial cepstral mean before each track, so results never depend on earlier calls
    (``app.kit.speech.PocketsphinxDecoder``).
    """
    return [_WORD_TO_DIGIT[word] for word in _digits_decoder.decode(track) if word in _WORD_TO_DIGIT]


def _edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def phrase_match(expected: Sequence[int], heard: Sequence[int]) -> float:
    """1 - edit distance / len(expected), clipped to 0..1.

    Each wrong, missing or extra digit costs 1/len(expected): for 5 digits one error scores 0.8,
    two 0.6. Saying many digits to cover the challenge does not help: extra digits cost too.
    """
    expected, heard = list(expected), list(heard)
    if not expected:
        return 1.0 if not heard else 0.0
    return max(0.0, 1.0 - _edit_distance(expected, heard) / len(expected))


# --------------------------------------------------------------------------------------------
# Verdict


@dataclass(frozen=True)
class AudioVerdict:
    ok: bool
    reasons: list[str]
    transcript: list[int]
    match: float
    segments: list[SpeechSegment] = field(default_factory=list)


#: Speech may stray this long outside the allowed window before it is flagged.
WINDOW_TOLERANCE_S = 0.3


def _seconds_outside(segments: Sequence[SpeechSegment], window: tuple[float, float]) -> float:
    lo, hi = window
    outside = 0.0
    for seg in segments:
        outside += max(0.0, min(seg.end_s, lo) - seg.start_s)
        outside += max(0.0, seg.end_s - max(seg.start_s, hi))
    return outside


def check_spoken_phrase(track: AudioTrack, challenge: Challenge, *, min_match: float = 0.6,
                        window: tuple[float, float] | None = None, recognise=None) -> AudioVerdict:
    """Did the person say the challenge digits (within ``window`` seconds, when given)?

    Reasons: ``no_speech`` (the VAD found none; recognition is skipped), ``phrase_mismatch``
    (``phrase_match`` below ``min_match``), ``speech_outside_window`` (more than
    ``WINDOW_TOLERANCE_S`` of speech before ``window[0]`` or after ``window[1]``).
    """
    if window is not None and not (math.isfinite(window[0]) and math.isfinite(window[1])
                                   and window[0] < window[1]):
        raise ValueError("window must be (start_s, end_s) with start_s < end_s")
    segments = speech_segments(track)
    if not segments:
        return AudioVerdict(ok=False, reasons=["no_speech"], transcript=[], match=0.0, segments=[])
    reasons = []
    # `recognise`: a function AudioTrack -> digits (see recognisers.py); pocketsphinx by default.
    transcript = (recognise or recognise_digits)(track)
    match = round(phrase_match(challenge.digits, transcript), 4)
    if match < min_match:
        reasons.append("phrase_mismatch")
    if window is not None and _seconds_outside(segments, window) > WINDOW_TOLERANCE_S:
        reasons.append("speech_outside_window")
    return AudioVerdict(ok=not reasons, reasons=reasons, transcript=transcript, match=match,
                        segments=segments)
