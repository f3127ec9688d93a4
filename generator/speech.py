"""Speech for dialogue quoted in a prompt: eSpeak NG, the library and its voice data bundled in
the espeakng-loader wheel, driven through ctypes in synchronous mode (no audio device, no
subprocess). The engine is process-wide state in the library: one lock serialises its users.

eSpeak NG is not bit-exact from one call to the next (a dozen samples in 17,000 vary), so a
render with dialogue is the same video but not the same file on a re-run.

What is spoken is what the prompt quotes and nothing else, so the pre-render gate has read it
as text; the post-render audio scan (safety.audio) hears it again in the file, as it hears any
other sound.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading

import numpy as np

MAX_CHARS = 300  # of quoted dialogue spoken per video
_QUOTED = re.compile(r'["“”„«»]([^"“”„«»]{1,2000})["“”„«»]')
_lock = threading.Lock()
_AUDIO_OUTPUT_SYNCHRONOUS, _POS_CHARACTER, _CHARS_UTF8 = 2, 1, 1
_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def dialogue(prompt: str) -> str:
    """The prompt's quoted lines, joined, at most MAX_CHARS: '' when it quotes nothing."""
    lines = [m.group(1).strip() for m in _QUOTED.finditer(prompt)]
    return " ".join(line for line in lines if line)[:MAX_CHARS]


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.rate <= 0:
            raise RuntimeError("eSpeak NG did not initialise")
        self.chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)  # kept: the library holds only the pointer
        lib.espeak_SetSynthCallback(self._callback)
        if lib.espeak_SetVoiceByName(b"en") != 0:
            raise RuntimeError("eSpeak NG has no English voice")
        self.lib = lib

    def _collect(self, wav, samples: int, events) -> int:
        if samples > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(samples,)).copy())
        return 0

    def say(self, text: str) -> np.ndarray:
        data = text.encode("utf-8")
        self.chunks = []
        if self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None) != 0:
            raise RuntimeError("eSpeak NG could not say the text")
        self.lib.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def speak(text: str, rate: int) -> np.ndarray:
    """`text` said by eSpeak NG's English voice: float32 mono in -1..1 at `rate` Hz."""
    if not text.strip():
        return np.zeros(0, np.float32)
    with _lock:
        engine = _engine()
        samples = engine.say(text)
    voice = samples.astype(np.float32) / 32768.0
    if engine.rate == rate or voice.size == 0:
        return voice
    positions = np.arange(round(voice.size * rate / engine.rate)) * engine.rate / rate
    return np.interp(positions, np.arange(voice.size), voice).astype(np.float32)
