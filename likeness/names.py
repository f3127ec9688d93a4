"""Which cameo display names stand for one person in a prompt (the named-cameo gate, stages.py).

A display name is matched by name only when it has two to four words and at least one of them is
not an ordinary English word: "Maria Lopez" names someone, "Sea Turtle", "Blue Sky" and "The Dog"
name things anyone may ask for, so a cameo called that must not take them off the platform. The
dictionary is Webster's Second (public domain, in the english-words package), which keeps case:
its lowercase entries are common words, names appear only capitalised ("Lopez", "Olivia").
The price: a name made only of dictionary words ("Grace Hopper", "Rose Baker") is not matched by
name; its owner is still protected by their @handle, by the face scan after rendering and by the
consent gate for their cameo.
"""

from __future__ import annotations

from functools import cache

from app.kit.textmatch import tokens

MIN_NAME_WORDS, MAX_NAME_WORDS = 2, 4


@cache
def _common_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"], alpha=True) if w.islower())


# The dictionary lists base forms: "turtles" and "dancing" are common because "turtle" and "dance" are.
_INFLECTIONS = (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"))


def is_common_word(word: str) -> bool:
    common = _common_words()
    return word in common or any(word.endswith(end) and len(word) > len(end) + 2 and word[:-len(end)] + base in common
                                 for end, base in _INFLECTIONS)


def is_common_phrase(display_name: str) -> bool:
    """Every word of the name is an ordinary (lowercase) dictionary word."""
    words = tokens(display_name)
    return bool(words) and all(is_common_word(w) for w in words)


def matched_by_name(display_name: str) -> bool:
    """Whether a prompt that contains this display name names the cameo's owner."""
    return MIN_NAME_WORDS <= len(tokens(display_name)) <= MAX_NAME_WORDS and not is_common_phrase(display_name)
