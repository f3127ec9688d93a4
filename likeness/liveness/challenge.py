"""Liveness challenge: a random phrase of spoken digits and a head-turn direction.

The enrolling person is shown ``Challenge.phrase`` (e.g. "seven three nine one four") and the
direction, and records a selfie video in which they say the digits and turn their head. A fresh
challenge per attempt makes a pre-recorded or looped clip useless: it cannot know the digits.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Literal

DIGIT_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)
DIRECTIONS: tuple[str, ...] = ("left", "right")

Direction = Literal["left", "right"]


@dataclass(frozen=True)
class Challenge:
    digits: tuple[int, ...]
    direction: Direction
    phrase: str

    def __post_init__(self) -> None:
        if not self.digits or any(not isinstance(d, int) or not 0 <= d <= 9 for d in self.digits):
            raise ValueError("digits must be a non-empty tuple of integers 0..9")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}")
        if self.phrase != phrase_for(self.digits):
            raise ValueError("phrase does not spell the digits")

    @classmethod
    def from_digits(cls, digits, direction: Direction) -> "Challenge":
        digits = tuple(int(d) for d in digits)
        return cls(digits=digits, direction=direction, phrase=phrase_for(digits))


def phrase_for(digits) -> str:
    """The words shown to the user: ``(7, 3, 9)`` -> ``"seven three nine"``."""
    return " ".join(DIGIT_WORDS[d] for d in digits)


class _SecretsRandom:
    """The two calls ``new_challenge`` needs, drawn from the OS CSPRNG."""

    @staticmethod
    def randrange(n: int) -> int:
        return secrets.randbelow(n)


def new_challenge(rng: random.Random | None = None, n_digits: int = 5) -> Challenge:
    """A fresh random challenge; unpredictable (``secrets``) unless an ``rng`` is given (tests)."""
    if n_digits < 1:
        raise ValueError("n_digits must be >= 1")
    source = rng if rng is not None else _SecretsRandom()
    digits = tuple(source.randrange(10) for _ in range(n_digits))
    direction: Direction = DIRECTIONS[source.randrange(2)]  # type: ignore[assignment]
    return Challenge(digits=digits, direction=direction, phrase=phrase_for(digits))
