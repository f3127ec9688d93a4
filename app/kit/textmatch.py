"""Normalised text and whole-phrase matching, shared by the term, name and title gates.

Evasions handled: case, accents, Unicode confusables (Cyrillic/Greek look-alikes, fullwidth,
mathematical letters), zero-width characters, leetspeak inside words ("n00d3"), spaced or
dotted letters ("n u d e", "n.u.d.e"), stretched letters ("nuuuude"), plurals and
possessives. Matching is on whole tokens, so "therapist" never matches "rapist".
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u180e"), None)

# Look-alikes NFKC leaves alone (it already folds fullwidth and mathematical letters).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h",
    "ӏ": "l", "ԛ": "q", "ԝ": "w", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ı": "i", "ł": "l", "ø": "o", "đ": "d",
    "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th",
})

# Upper-case look-alikes, for the case-sensitive name check.
_CONFUSABLES_UPPER = str.maketrans({"А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
                                    "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
                                    "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
                                    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Ζ": "Z"})

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"})
_LEET_CHARS = frozenset("0134578@$!|+€")
_ORDINAL_OR_NUMBER = re.compile(r"^\d+(st|nd|rd|th|s|k|m|p|d|x|am|pm|yo|yr|yrs)?$")
_TOKEN = re.compile(r"[a-z0-9@$!|+€]+")
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_STRETCHED = re.compile(r"(.)\1{2,}")


def visible(text: str) -> str:
    """NFKC without invisible characters: the text as read, in its own script and case."""
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)


def fold(text: str) -> str:
    """Lowercase ASCII-ish text: NFKC, no zero-width, confusables mapped, accents stripped."""
    text = visible(text).casefold().translate(_CONFUSABLES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Shouting: "OBAMA!!!", "OBAMA!1!". A run of ! (with 1s or |s in it) ending a word is punctuation,
# not leetspeak for "iii": read as letters it hid every name it followed.
_SHOUTED = re.compile(r"^(.+?)(!+(?:[1|]+!+)*[1|]*)$")
_SHOUT_START = re.compile(r"^[!|]+(?=[^!1|])")


def _deleet(token: str) -> str:
    shouted = _SHOUTED.match(token)
    if shouted:
        token = shouted.group(1)
    token = _SHOUT_START.sub("", token)
    if token.isalpha() or _ORDINAL_OR_NUMBER.match(token) or not any(c.isalpha() for c in token):
        return token.strip("@$!|+€")
    return token.translate(_LEET)


def _join_spelled_out(tokens: list[str], gaps: list[str]) -> list[str]:
    """Three or more single characters in a row, mostly letters, are one spelled-out word ("p 0 r n").
    `gaps[i]` is the text between tokens i-1 and i: a spelled-out word keeps one separator, so a
    change of separator ends it ("h a r d  s e x" is two words, "a m.o.l.o.t.o.v" is "a molotov")."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j]) == 1 and (tokens[j].isalpha() or tokens[j] in _LEET_CHARS):
            j += 1
        if j == i:
            out.append(tokens[i])
            i += 1
            continue
        out += _spelled_runs(tokens[i:j], gaps[i + 1:j])
        i = j
    return out


def _spelled_runs(chars: list[str], gaps: list[str]) -> list[str]:
    # Segments of equal separators; a character between two segments belongs to the longer one.
    segments: list[tuple[int, int]] = []   # (first char, last char) inclusive
    start = 0
    for k in range(1, len(gaps) + 1):
        if k == len(gaps) or gaps[k] != gaps[start]:
            segments.append((start, k))
            start = k
    owner = [-1] * len(chars)
    for s_idx in sorted(range(len(segments)), key=lambda n: segments[n][0] - segments[n][1]):
        first, last = segments[s_idx]
        for c in range(first, last + 1):
            if owner[c] == -1:
                owner[c] = s_idx
    for c in range(len(chars)):
        if owner[c] == -1:
            owner[c] = len(segments) + c   # a lone character
    out: list[str] = []
    c = 0
    while c < len(chars):
        d = c
        while d < len(chars) and owner[d] == owner[c]:
            d += 1
        run = chars[c:d]
        if len(run) >= 3 and sum(ch.isalpha() for ch in run) >= 2:
            out.append("".join(run).translate(_LEET))
        else:
            out.extend(run)
        c = d
    return out


def tokens(text: str) -> list[str]:
    return list(_tokens(text))


# One prompt is tokenised by every gate that matches phrases in it (names, titles, terms, figures):
# 39 times in one POST /generations. Bounded; the key is the text itself.
@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    folded = _POSSESSIVE.sub(r"\1", fold(text))
    kept: list[str] = []
    gaps: list[str] = []
    end = 0
    for match in _TOKEN.finditer(folded):
        token = _deleet(match.group(0))
        if token:
            gaps.append(folded[end:match.start()])
            kept.append(token)
            end = match.end()
    return tuple(_join_spelled_out(kept, gaps))


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def stretch_variants(token: str) -> set[str]:
    """A letter repeated 3+ times stands for one or two ("nuuude" -> nude, "goooood" -> good).
    Doubled letters are left alone: "teen" must not become "ten"."""
    if not _STRETCHED.search(token):
        return {token}
    return {_STRETCHED.sub(r"\1", token), _STRETCHED.sub(r"\1\1", token)}


def singular(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("ches", "shes", "xes", "sses", "zes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


@functools.lru_cache(maxsize=65536)
def _keys(token: str) -> frozenset[str]:
    variants = stretch_variants(token)
    return frozenset(variants | {singular(v) for v in variants})


@dataclass(frozen=True)
class Match(Generic[T]):
    payload: T
    phrase: str
    start: int
    end: int


class PhraseIndex(Generic[T]):
    """Whole-token phrase lookup over normalised text; O(tokens × candidates per token)."""

    def __init__(self, plurals_stay_plural: bool = False) -> None:
        # (keys, phrase, payload, the plural words a match must keep plural)
        # Entries by their first two keys (a one-word phrase by its one): a list of thousands of
        # descriptions that begin with "the" is not tried at every "the" of a prompt.
        self._by_start: dict[tuple[str, ...], list[tuple[tuple[str, ...], str, T, tuple[tuple[int, str], ...]]]] = {}
        self.size = 0
        # Titles: "Star Wars" matches "star wars'" and "Star Wars" but not "a star war between two
        # fleets"; "Garfield" still matches "two Garfields". Only for phrases of several words: a
        # single plural term ("nudes") keeps matching its singular.
        self.plurals_stay_plural = plurals_stay_plural

    def add(self, phrase: str, payload: T) -> None:
        toks = tokens(phrase)
        if not toks:
            return
        keyed = tuple(singular(t) for t in toks)
        plural = tuple((j, t) for j, t in enumerate(toks) if singular(t) != t) \
            if self.plurals_stay_plural and len(toks) > 1 else ()
        entry = (keyed, " ".join(toks), payload, plural)
        self._by_start.setdefault(keyed[:2], []).append(entry)
        self.size += 1

    def payloads(self) -> list[T]:
        """Every phrase's payload, in no particular order."""
        return [entry[2] for entries in self._by_start.values() for entry in entries]

    def add_all(self, phrases: Iterable[str], payload: T) -> None:
        for phrase in phrases:
            self.add(phrase, payload)

    def _scan(self, toks: list[str]) -> Iterator[Match[T]]:
        token_keys = [_keys(t) for t in toks]
        for i, keys_i in enumerate(token_keys):
            following = token_keys[i + 1] if i + 1 < len(toks) else ()
            starts = [(k,) for k in keys_i] + [(k, k1) for k in keys_i for k1 in following]
            for start in starts:
                for phrase_keys, phrase, payload, plural in self._by_start.get(start, ()):
                    n = len(phrase_keys)
                    if i + n <= len(toks) and all(phrase_keys[j] in token_keys[i + j] for j in range(2, n)) \
                            and all(word in stretch_variants(toks[i + j]) for j, word in plural):
                        yield Match(payload, phrase, i, i + n)

    def every_match(self, toks: list[str]) -> list[Match[T]]:
        """Every occurrence of every phrase in tokenised text, in order (`find_in_tokens` reports a
        payload once)."""
        return list(self._scan(toks))

    def find(self, text: str) -> list[Match[T]]:
        """All matches, longest first; a payload is reported once."""
        return self.find_in_tokens(tokens(text))

    def find_in_tokens(self, toks: list[str]) -> list[Match[T]]:
        """`find` over text already tokenised (`tokens`), or tokens a caller left some out of."""
        seen: set[int] = set()
        found: list[Match[T]] = []
        candidates = sorted(self._scan(toks), key=lambda m: (-(m.end - m.start), m.start))
        for match in candidates:
            marker = id(match.payload)
            if marker not in seen:
                seen.add(marker)
                found.append(match)
        return found


# Words next to a name that say a person is meant: a title before it, a verb after it.
PERSON_TITLES = frozenset("president mr mrs ms miss dr senator governor former ex vice prime minister king queen "
                          "prince princess sir dame pope chancellor candidate congressman congresswoman".split())
PERSON_VERBS = frozenset("says said speaks spoke gives gave smiles waves walks dances sings eats holds wears rides "
                         "meets hugs kisses shakes signs visits addresses announces tweets posts laughs cries shouts "
                         "runs jumps sits stands sleeps drinks cooks fights argues debates".split())


# -- misspellings --------------------------------------------------------------------------------


def edit_distance(a: str, b: str, limit: int = 99) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: an adjacent swap is one edit)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def deletes(word: str, depth: int) -> set[str]:
    """`word` and every string `depth` or fewer deleted letters away (symmetric-delete lookup: two
    words within `depth` edits share one of these)."""
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def respelling_edits(letters: int) -> int:
    """Edits a misspelt word of this many letters may carry and still be read as another: none under
    5 ("teh" stays), 1 up to 8, 2 from 9."""
    return 0 if letters < 5 else 1 if letters <= 8 else 2


class Respeller:
    """Words a misspelt token most likely stands for, among a fixed vocabulary (a list's description
    words): "presidnet" is "president". Only a token that is no known word is respelt ("resident"
    stays), and only to a single nearest word."""

    def __init__(self, vocabulary: Iterable[str]):
        self._words = frozenset(w for w in vocabulary if w.isalpha() and len(w) >= 5)
        self._by_delete: dict[str, set[str]] = {}
        for word in self._words:
            for variant in deletes(word, respelling_edits(len(word))):
                self._by_delete.setdefault(variant, set()).add(word)

    def respell(self, words: list[str], known: Callable[[str], bool]) -> list[str]:
        """`words` with each unknown one (not in the vocabulary, `known` false) replaced by its one
        nearest vocabulary word, where there is one; the same list when nothing changed."""
        out = words
        for i, word in enumerate(words):
            edits = respelling_edits(len(word))
            if not edits or not word.isalpha() or word in self._words or known(word):
                continue
            near = {c for v in deletes(word, edits) for c in self._by_delete.get(v, ())
                    if edit_distance(word, c, edits) <= min(edits, respelling_edits(len(c)))}
            if len(near) == 1:
                out = out if out is not words else list(words)
                out[i] = near.pop()
        return out


def person_cue(words: list[str], start: int, end: int) -> bool:
    """A title just before words[start:end] ("President Trump") or a verb just after it ("Trump
    dancing", "Trump waves"): a person is meant, not the word."""
    before = words[start - 1] if start > 0 else ""
    after = words[end] if end < len(words) else ""
    return before in PERSON_TITLES or after in PERSON_VERBS or (len(after) > 4 and after.endswith("ing"))


def capitalised_as_name(text: str, phrase: str) -> bool:
    """`phrase` written capitalised where a sentence does not begin, in a text that is not all
    capitals: then the capitals say "a name" ("a card called Trump"); at a sentence's start or in
    shouted text they say nothing ("Trump card in bridge", "TRUMP CARD")."""
    plain, found = _capitalised(text, phrase)
    if not any(ch.islower() for ch in plain):
        return False
    for match in found:
        before = plain[:match.start()].rstrip(" \t\"'“”‘’(")
        if before and before[-1] not in ".!?:\n":
            return True
    return False


def _capitalised(text: str, phrase: str) -> tuple[str, Iterator[re.Match[str]]]:
    """`text` with accents and confusables folded but its case kept, and where `phrase` occurs in
    it with each word capitalised."""
    words = tokens(phrase)
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_CONFUSABLES_UPPER)
    if not words:
        return plain, iter(())
    pattern = r"\b" + r"[\s\-.]+".join(re.escape(w[:1].upper()) + re.escape(w[1:]) for w in words) + r"(?:['’]?s)?\b"
    return plain, re.finditer(pattern, plain)


def appears_capitalised(text: str, phrase: str) -> bool:
    """True if `phrase` occurs in `text` with each word capitalised, as a name would be.

    Ambiguous names ("Swift", "Frozen") only count when written as names: "a swift bird" is not
    "Swift on stage". Accents and confusables are folded first; case is kept."""
    return next(_capitalised(text, phrase)[1], None) is not None


# -- other scripts ---------------------------------------------------------------------------------
#
# The phrase gates match Latin tokens: a name written in Cyrillic, Chinese or Arabic left no token at
# all and went through. Two ways in, both only for the parts of a prompt in other scripts (so a
# Latin "tramp" is never read as the Cyrillic "Трамп"):
# - transliterate(): anyascii's Latin reading, matched against the same phrase lists ("Владимир
#   Путин" reads "vladimir putin"); it catches every listed name whose usual English spelling is
#   its transliteration;
# - NativeAliases: names as each language writes them ("特朗普", "Трамп"), for the best-known
#   people and works, whose transliterations differ from English ("tramp", "te lang pu").

# Scripts written without spaces between words: each character is read as its own syllable.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
# A letter of a script written without spaces between words (those above, and Thai)
_UNSPACED_LETTER = r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"


def _is_latin(ch: str) -> bool:
    return ord(ch) < 0x250 or 0x1E00 <= ord(ch) <= 0x1EFF or not ch.isalpha()


def has_other_script(text: str) -> bool:
    """Letters outside the Latin script (after NFKC: fullwidth and mathematical letters are Latin)."""
    if text.isascii():  # most prompts: no per-character pass
        return False
    return any(not _is_latin(ch) for ch in unicodedata.normalize("NFKC", text))


def transliterate(text: str) -> str:
    """The prompt's runs in other scripts read in Latin letters, each run kept apart ("|") from the
    next and from the Latin words, which are dropped (the plain match reads them)."""
    from anyascii import anyascii

    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalpha() and not _is_latin(ch):
            # A soft or hard sign reads as an apostrophe ("Donal'd"): it is not a word break.
            reading = anyascii(ch).replace("'", "").replace("\u2019", "")
            current.append(f" {reading} " if _UNSPACED.match(ch) else reading)
        elif ch.isspace() or ch in "-·・‧'’" and current:
            current.append(" ")
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return " | ".join(" ".join(run.split()) for run in runs if run.strip())


class LazyPattern:
    """A regular expression compiled on its first search. Term files hold thousands of patterns,
    and a text reaches only those its anchor words select: compiling all of them at load cost
    seconds per process for patterns most processes never try."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str):
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        return self._pattern().search(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self._pattern().finditer(text)

    def _pattern(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled


def _word_start(word: str) -> str:
    """The first three letters of a word, after any opening punctuation («, ¿, quotes)."""
    return re.sub(r"^\W+", "", word)[:3]


def _occurrences(text: str, phrase: str) -> list[int]:
    found, at = [], text.find(phrase)
    while at >= 0:
        found.append(at)
        at = text.find(phrase, at + 1)
    return found


# Arabic as search engines fold it: alef with hamza or madda as bare alef, alef maqsura as yeh, taa
# marbuta as heh; short-vowel marks and the tatweel dropped (إنديانا and انديانا are one spelling).
_ARABIC_FOLD = str.maketrans({"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
                              "\u0649": "\u064a", "\u0629": "\u0647", "\u0640": None,
                              **{chr(c): None for c in range(0x064B, 0x0653)}})


def _plain_fold(text: str) -> str:
    """Text as native terms compare it: NFKC, no zero-width characters, case folded."""
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()


def _native_fold(text: str) -> str:
    """Text as native names compare it: _plain_fold, Russian ё as е (most writing leaves the dots off:
    Пёс and Пес are one word) and Arabic folded (_ARABIC_FOLD)."""
    return _plain_fold(text).replace("ё", "е").translate(_ARABIC_FOLD)


# Arabic script writes "and", "with", "for", "as" onto the next word (وترامب, بقطع): one or two
# letters a name may carry in front.
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
_PROCLITIC = "(?:[\u0648\u0641\u0628\u0644\u0643]{1,2})?"
_PROCLITIC_LETTERS = 2


# Cyrillic endings that a case replaces rather than follows: Губка -> Губку, Игорь -> Игоря. Borrowed
# names ending in о, е, и, у or ю do not decline (Марио, Барби, Пикачу): "вари" is not Wario in "варит".
_REPLACED_ENDING = "аяйь"
# An adjective's ending (Холодное сердце -> Холодного сердца, Звёздные войны -> Звёздных войн) and a
# plural noun's (войны -> войн, Смурфики -> Смурфиков, Мстители -> Мстителей) change with the case.
# A closing и is a plural's only in a longer word: Барби, Гарри, Микки are borrowed and do not decline.
_ADJECTIVE_ENDINGS = ("ое", "ая", "ый", "ий", "ой", "ые", "ие", "ее", "яя")


def _inflected(word: str) -> str:
    """A word of a Cyrillic or Greek name as its cases write it: every word of the name declines
    ("с Илоном Маском", "про Человека-паука", "Губку Боба"). A closing vowel, й or ь of a word of 5
    letters or more may be replaced by an ending of one or two letters (а, я, й or ь: other
    closing vowels are borrowed names' and do not decline), a plural's ы or и by up to three, an
    adjective's two-letter ending by another two or three; otherwise up to
    NativeAliases.MAX_ENDING letters may follow (Трампа, not Трамплин, a springboard). A shorter
    word keeps its last letter: "Дора" must not read "дорога", a road."""
    if len(word) >= 6 and word[-2:] in _ADJECTIVE_ENDINGS:
        return re.escape(word[:-2]) + r"\w{2,3}"
    if len(word) >= 5 and word[-1] in _REPLACED_ENDING:
        return re.escape(word[:-1]) + r"\w{1,%d}" % NativeAliases.MAX_ENDING
    if (len(word) >= 5 and word[-1] == "ы") or (len(word) >= 7 and word[-1] == "и"):
        return re.escape(word[:-1]) + r"\w{0,3}"
    return re.escape(word) + r"\w{0,%d}" % NativeAliases.MAX_ENDING


class NativeAliases(Generic[T]):
    """Names as other languages write them, found in a prompt's own script. A name in a script
    written with spaces must stand as a word (Cyrillic and Greek may add a case ending: "Путина");
    in Chinese, Japanese and Korean, which have no spaces, anywhere. Arabic script may carry a
    one- or two-letter proclitic ("and", "with": وترامب)."""

    MAX_ENDING = 2  # Трампа, Путиным; not Трамплин (a springboard)

    def __init__(self, names: bool = False) -> None:
        # `names`: the entries are names (from_file): every word of a Cyrillic name declines and ё
        # is read as е. Terms (safety/terms.py) keep a case ending on the last word only.
        self._names = names
        self._entries: list[tuple[LazyPattern, str, T]] = []
        self._latin: set[int] = set()   # the entries a Latin-only text can match
        # Entries by the first two characters of their first word: a text is tried only against
        # the entries whose key it holds (thousands of phrases, a handful of candidates). A name in
        # a script written with spaces starts a word: it is keyed by the word's first three letters
        # (_word_start), which fewer texts hold than any two letters ("la", "de" are in most).
        self._by_key: dict[str, list[int]] = {}
        self._by_word: dict[str, list[int]] = {}
        # Phrases in which a name is a word, not the person or the work (Korean 트럼프 카드, playing
        # cards): a name found inside one does not count.
        self._everyday: list[str] = []

    def _fold(self, text: str) -> str:
        return _native_fold(text) if self._names else _plain_fold(text)

    def add_everyday(self, phrase: str) -> None:
        folded = self._fold(phrase).strip()
        if folded:
            self._everyday.append(folded)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, name: str, payload: T, standalone: bool = False) -> None:
        """`standalone`: a name in a script without spaces that is also an everyday word there
        (Chinese 成龙, "to become a dragon", in 望子成龙) counts only apart from other letters of
        such scripts: in a prompt of another language ("成龙 doing a stunt") or set off by spaces or
        punctuation."""
        folded = self._fold(name).strip()
        if not folded:
            return
        words = [part for part in re.split(r"[\s\-·・‧]+", folded) if part]
        declines = bool(re.search(r"[\u0370-\u04ff]", folded))
        if declines and self._names:
            body = r"[\s\-·・‧]*".join(_inflected(word) for word in words)
        else:
            body = r"[\s\-·・‧]*".join(re.escape(word) for word in words)
            body += r"\w{0,%d}" % self.MAX_ENDING if declines else ""
        if standalone:
            pattern = rf"(?<!{_UNSPACED_LETTER}){body}(?!{_UNSPACED_LETTER})"
        elif _UNSPACED.search(folded):
            pattern = body
        else:
            prefix = _PROCLITIC if _ARABIC_LETTER.search(folded) else ""
            pattern = rf"(?<!\w){prefix}{body}(?!\w)"
        self._entries.append((LazyPattern(pattern), name, payload))
        index = len(self._entries) - 1
        start = _word_start(words[0])
        if self._names and start and not _UNSPACED.search(words[0]):
            self._by_word.setdefault(start, []).append(index)
        else:
            self._by_key.setdefault(words[0][:2], []).append(index)
        if not has_other_script(folded):
            self._latin.add(index)

    def find(self, text: str) -> list[tuple[str, T]]:
        folded = self._fold(text)
        found_in: set[int] = set()
        if self._by_key and (not self._names or _UNSPACED.search(folded)):
            keys = {folded[i:i + 2] for i in range(len(folded) - 1)} | set(folded)
            found_in = {i for key in keys for i in self._by_key.get(key, ())}
        if self._by_word:
            starts = set()
            for piece in re.split(r"[\s\-·・‧]+", folded):
                # the first one, two and three letters: a name's short first word may take an
                # ending (Ёж Соник, "Ёжик Соник"); in Arabic, also after a proclitic
                skips = range(_PROCLITIC_LETTERS + 1) if _ARABIC_LETTER.search(piece) else (0,)
                for word in (piece[n:] for n in skips):
                    start = _word_start(word)
                    starts |= {start, start[:2], start[:1]}
            found_in |= {i for key in starts for i in self._by_word.get(key, ())}
        candidates = sorted(found_in)
        # Most prompts are in Latin letters: the other-script entries cannot match them.
        if not has_other_script(folded):
            candidates = [i for i in candidates if i in self._latin]
        found = []
        everyday = [(at, at + len(p)) for p in self._everyday for at in _occurrences(folded, p)]
        for i in candidates:
            pattern, name, payload = self._entries[i]
            if not everyday:
                if pattern.search(folded):
                    found.append((name, payload))
            elif any(not any(a <= m.start() and m.end() <= b for a, b in everyday) for m in pattern.finditer(folded)):
                found.append((name, payload))
        return found

    @classmethod
    def from_file(cls, path: Path | None, payload: Callable[[str, str], T | None],
                  ambiguous: Callable[[str, str], T | None] | None = None) -> tuple["NativeAliases[T]", str]:
        """A names file ({"version", "source", "names": {id: {language: [name, ...]}}, and optionally
        "standalone_names" in the same shape (see `add`), "ambiguous_names" in the same shape and
        "everyday_phrases": {language: [phrase, ...]} (see `add_everyday`)}) read into aliases, with
        its version ("" when there is no file). `payload(id, name)`: what a match of that name reports,
        or None for an id the caller does not list; `ambiguous(id, name)` the same for an ambiguous
        name (a name that is also a phrase there), which is left out without it."""
        aliases: NativeAliases[T] = cls(names=True)
        if path is None or not Path(path).is_file():
            return aliases, ""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        for phrase in (p for spelled in raw.get("everyday_phrases", {}).values() for p in spelled):
            aliases.add_everyday(phrase)
        sections = (("names", False, payload), ("standalone_names", True, payload), ("ambiguous_names", False, ambiguous))
        for section, standalone, reported in sections:
            for key, languages in raw.get(section, {}).items() if reported is not None else ():
                for name in (n for spelled in languages.values() for n in spelled):
                    found = reported(key, name)
                    if found is not None:
                        aliases.add(name, found, standalone)
        return aliases, str(raw.get("version", "0"))
