import random

import pytest

from likeness.liveness.challenge import DIGIT_WORDS, Challenge, new_challenge, phrase_for


def test_a_new_challenge_has_five_digits_a_direction_and_the_matching_phrase():
    c = new_challenge()
    assert len(c.digits) == 5 and all(isinstance(d, int) and 0 <= d <= 9 for d in c.digits)
    assert c.direction in ("left", "right")
    assert c.phrase.split() == [DIGIT_WORDS[d] for d in c.digits]


def test_digit_words_are_in_order():
    assert DIGIT_WORDS == ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    assert phrase_for((7, 3, 9, 1, 4)) == "seven three nine one four"


def test_challenges_are_random():
    draws = [new_challenge() for _ in range(100)]
    assert len({c.digits for c in draws}) > 90
    assert {c.direction for c in draws} == {"left", "right"}
    assert {d for c in draws for d in c.digits} == set(range(10))


def test_a_seeded_rng_reproduces_the_challenge():
    a = [new_challenge(random.Random(42)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert new_challenge(random.Random(43)) != a[0]
    r1, r2 = random.Random(7), random.Random(7)
    assert [new_challenge(r1) for _ in range(5)] == [new_challenge(r2) for _ in range(5)]


def test_length_is_configurable_and_validated():
    assert len(new_challenge(random.Random(1), n_digits=8).digits) == 8
    with pytest.raises(ValueError):
        new_challenge(n_digits=0)


def test_a_challenge_refuses_inconsistent_fields():
    assert Challenge.from_digits([2, 8, 0], "left").phrase == "two eight zero"
    with pytest.raises(ValueError):
        Challenge(digits=(1, 2), direction="left", phrase="one three")
    with pytest.raises(ValueError):
        Challenge(digits=(1, 2), direction="up", phrase="one two")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Challenge(digits=(1, 12), direction="left", phrase="one twelve")
