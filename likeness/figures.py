"""The shipped public-figure list: names, aliases and descriptions, matched in prompts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from app.config import setting
from app.kit.text_embedding import prompt_views
from app.kit.textmatch import (
    PERSON_TITLES, NativeAliases, PhraseIndex, Respeller, appears_capitalised, capitalised_as_name, has_other_script,
    person_cue, tokens, transliterate,
)
from app.stage import Decision
from likeness.figure_head import FigureHead

DEFAULT_FIGURES = Path(__file__).parent / "data" / "public_figures.json"
# The best-known names as other languages write them (its "source" says where they come from).
NAMES_IN_OTHER_SCRIPTS = Path(__file__).parent / "data" / "public_figures_i18n.json"


@dataclass(frozen=True)
class Figure:
    id: str
    name: str
    category: str
    aliases: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class FigureRef:
    figure: Figure
    # A distinctive name blocks; an ambiguous alias or a description goes to review.
    decision: Decision
    via: str
    phrase: str


class TextModel(Protocol):
    """What the list reads prompts with besides its phrases (app/kit/text_embedding.TextEmbedder):
    sentence vectors for the figure head, and the words it knows (a misspelling is no known word)."""

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def vocabulary(self) -> frozenset[str]: ...


class FigureList:
    def __init__(self, version: str, figures: list[Figure], index: PhraseIndex,
                 native: NativeAliases | None = None, bare_descriptions: PhraseIndex | None = None,
                 description_words: Iterable[str] = ()):
        self.version, self.figures, self._index = version, figures, index
        self._bare = bare_descriptions if bare_descriptions is not None else PhraseIndex()
        self._native: NativeAliases = native if native is not None else NativeAliases()
        self._by_id = {f.id: f for f in figures}
        self.head: FigureHead | None = None
        self._text_model: Callable[[], TextModel] | None = None
        self._respeller = Respeller(description_words)

    def with_head(self, head: FigureHead | None, text_model: Callable[[], TextModel] | None) -> "FigureList":
        """The same list read also by a figure head (figure_head.py) over the vectors of
        `text_model()` (a factory, so the model loads at the first prompt, not with the list), which
        also says which words are misspelt; None: names and descriptions as written only."""
        other = object.__new__(FigureList)
        other.__dict__.update(self.__dict__)
        other.head, other._text_model = head, text_model if head is not None else None
        other.version = self.version.split("+head-")[0] + (f"+head-{head.tag()}" if head is not None else "")
        return other

    @classmethod
    def from_file(cls, path: Path, native_path: Path | None = NAMES_IN_OTHER_SCRIPTS) -> "FigureList":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        index: PhraseIndex = PhraseIndex()
        figures = []
        descriptions: dict[str, list[tuple[Figure, str]]] = {}
        for entry in raw["figures"]:
            fig = Figure(entry["id"], entry["name"], entry.get("category", "other"), tuple(entry.get("aliases", [])))
            figures.append(fig)
            ambiguous = {a.casefold() for a in entry.get("ambiguous_aliases", [])}
            for phrase in (fig.name, *fig.aliases):
                if phrase.casefold() not in ambiguous:
                    index.add(phrase, FigureRef(fig, Decision.BLOCK, "name", phrase))
            for phrase in entry.get("ambiguous_aliases", []):
                index.add(phrase, FigureRef(fig, Decision.REVIEW, "ambiguous_name", phrase))
            for phrase in entry.get("descriptions", []):
                for variant in description_variants(phrase):
                    descriptions.setdefault(variant, []).append((fig, phrase))
        # ... and each without its determiners, for find()'s second reading of a prompt
        bare_index: PhraseIndex = PhraseIndex()
        for variant, owners in descriptions.items():
            for fig, phrase in owners:
                ref = FigureRef(fig, description_decision(variant, len({f.id for f, _ in owners})), "description",
                                phrase)
                index.add(variant, ref)
                bare_index.add(" ".join(w for w in tokens(variant) if w not in DESCRIPTION_FILLERS), ref)
        by_id = {f.id: f for f in figures}
        native, native_version = NativeAliases.from_file(native_path, lambda figure_id, name: FigureRef(
            by_id[figure_id], Decision.BLOCK, "name_in_other_script", name) if figure_id in by_id else None)
        version = str(raw.get("version", "0")) + (f"+i18n-{native_version}" if native_version else "")
        return cls(version, figures, index, native, bare_index, {w for v in descriptions for w in tokens(v)})

    def find(self, text: str) -> list[FigureRef]:
        best: dict[str, FigureRef] = {}
        found = []
        words = tokens(text)
        for match in self._index.find_in_tokens(words):
            ref: FigureRef = match.payload
            if ref.via == "ambiguous_name":
                ref = self._in_context(text, words, match, ref)
                if ref is None:
                    continue
            found.append(ref)
        # Descriptions are read once more without determiners and possessives on either side: "the
        # author of the harry potter books" holds "author of harry potter" as "author of harry potter
        # books" does. Not after "a" or "former": "the king of spain" is one person, "a king of spain"
        # any of them.
        bare = [w for w in words if w not in DESCRIPTION_FILLERS]
        found += [m.payload for m in self._bare.find_in_tokens(bare) if not _indefinite(bare, m.start)]
        found += self._respelt_descriptions(words)
        if has_other_script(text):
            found += [ref for _, ref in self._native.find(text)]
            # Read in Latin letters, only a full, distinctive name counts: an ambiguous alias or a
            # description has no capitals or context left to judge it by, and a short name or an
            # initialism turns up among a transliteration's syllables (Urdu "سڑک", a road, reads "srk").
            found += [FigureRef(m.payload.figure, Decision.BLOCK, "transliterated_name", m.payload.phrase)
                      for m in self._index.find(transliterate(text)) if m.payload.via == "name"
                      and sum(c.isalpha() for c in m.payload.phrase) >= MIN_TRANSLITERATED_LETTERS]
        # A description the list knows to fit several people ("a former mexican president") is not
        # pinned to one of them by the head either: review.
        fits_many = any(r.via == "description" and r.decision == Decision.REVIEW for r in found)
        found += [FigureRef(r.figure, Decision.REVIEW, r.via, r.phrase) if fits_many else r
                  for r in self.described(text)]
        for ref in found:
            held = best.get(ref.figure.id)
            if held is None or (held.decision == Decision.REVIEW and ref.decision == Decision.BLOCK):
                best[ref.figure.id] = ref
        return list(best.values())

    def _respelt_descriptions(self, words: list[str]) -> list[FigureRef]:
        """Descriptions read once more with misspelt words respelt ("teh 43rd presidnet of the usa"):
        a word the text model does not know, one or two edits from a single description word."""
        if self._text_model is None:
            return []
        known = self._text_model().vocabulary()
        respelt = self._respeller.respell(words, known.__contains__)
        if respelt is words:
            return []
        bare = [w for w in respelt if w not in DESCRIPTION_FILLERS]
        return [m.payload for m in self._index.find_in_tokens(respelt) if m.payload.via == "description"] + \
            [m.payload for m in self._bare.find_in_tokens(bare) if not _indefinite(bare, m.start)]

    def described(self, text: str) -> list[FigureRef]:
        """The listed person the figure head reads the prompt's views as describing: blocked where
        the head's cut-offs pin one person, reviewed from its review cut-off; [] without a head."""
        if self.head is None or self._text_model is None:
            return []
        views = prompt_views(text)
        vectors = self._text_model().embed(views)
        ranked = [r for r in self.head.ranked(vectors) if r[0] in self._by_id]
        if not ranked:
            return []
        decision = self.head.cutoffs.decision(ranked, self.head.cosine(vectors, ranked[0][0]))
        if decision == Decision.ALLOW:
            return []
        figure_id, _p, view = ranked[0]
        return [FigureRef(self._by_id[figure_id], decision, "described_learned", views[view])]

    @staticmethod
    def _in_context(text: str, words: list[str], match, ref: FigureRef) -> FigureRef | None:
        """A name that is also an everyday word ("a swift bird", "a trump card") counts only with
        context: written as a name (capitalised where a sentence does not begin) and next to a
        person's title or verb, it blocks like the name; with one of the two, it goes to review
        (when unsure, review, never block); with neither, it is the word."""
        # "a drake swimming", "the swift", "a lightning bolt striking", "a wedding usher showing": a
        # determiner, right before or one word before, makes the word a common noun (not a title:
        # "the president trump").
        before = words[max(0, match.start - 2):match.start]
        noun = bool(before) and (before[-1] in DETERMINERS or (
            len(before) == 2 and before[0] in DETERMINERS and before[1] not in PERSON_TITLES))
        named = capitalised_as_name(text, ref.phrase)
        person = person_cue(words, match.start, match.end) and not noun
        if named and person:
            return FigureRef(ref.figure, Decision.BLOCK, "ambiguous_name_in_context", ref.phrase)
        # Capitals where a sentence begins say nothing either way: unsure, so review.
        if named or person or (appears_capitalised(text, ref.phrase) and not noun):
            return ref
        return None


# The matching rules' own version, on every verdict beside the list's: bump it when a rule changes
# (2026-12-06: numbered offices without their article, "founded X" for "the founder of X";
# 2026-12-06.2: descriptions read without determiners and possessives, "a lightning bolt" a noun,
# no short names read from transliterations; .3: "a latin american president" fits many, misspelt
# description words respelt, and the figure head reads what the phrases miss).
MATCHING = "2026-12-06.3"

# "former mexican president", "ex-wife of ...": more than one person fits, so review.
_MANY = frozenset("former ex ex-wife ex-husband one".split())
_ROLES = ("founder", "cofounder", "co-founder", "ceo", "owner", "creator")


def description_decision(phrase: str, figures_sharing_it: int) -> Decision:
    """A description that identifies one person (an office and its country, a numbered office, a
    company founded, a signature work, a family tie) blocks like the name; one that several listed
    people share, or that fits more than one ("former ..."), goes to review."""
    words = set(phrase.casefold().replace("'s", "").split())
    return Decision.REVIEW if figures_sharing_it > 1 or words & _MANY else Decision.BLOCK


# What the holder of a role did: "the guy who founded tesla and spacex" is "the founder of tesla and spacex".
_ROLE_VERBS = {"founder": ("founded",), "cofounder": ("cofounded", "co-founded"),
               "co-founder": ("co-founded", "cofounded"), "creator": ("created",), "owner": ("owns",)}


def description_variants(phrase: str) -> set[str]:
    """The ways people write a description the list writes one way: "the 44th us president" is
    also "the 44th president of the united states" (of the us, of america, the 44th american
    president, and a numbered one without its leading "the": "the former 44th us president"); "amazon
    founder" is also "founder of amazon", "founded amazon", and the other way round."""
    words = phrase.casefold().split()
    out = {phrase.casefold()}
    role, held = None, None
    if len(words) >= 2 and words[-1] in _ROLES:
        role, held = words[-1], " ".join(w for w in words[:-1] if w != "the")
        out.add(f"{role} of {held}")
    role_of = re.match(r"^(?:the )?(founder|cofounder|co-founder|ceo|owner|creator) of (.+)$", phrase.casefold())
    if role_of:
        role, held = role_of.group(1), role_of.group(2)
        out.add(f"{held} {role}")
    for verb in _ROLE_VERBS.get(role or "", ()):
        out.add(f"{verb} {held}")
    if "us" in words:
        i = words.index("us")
        before, office = words[:i], words[i + 1:]
        out.add(" ".join(before + ["united", "states"] + office))
        out.add(" ".join(before + ["american"] + office))
        if office:
            for country in ("the united states", "the us", "america", "the usa"):
                out.add(" ".join(before + office) + f" of {country}")
    # "the king of spain" is also "spain's king" (read as "spain king") and "the spanish king"; "the
    # singer of shape of you" is also "the shape of you singer".
    of = re.match(r"^(?:the )?((?:\S+ ){0,3}?\S+) of (?:the )?(.+)$", phrase.casefold())
    if of and len(of.group(2).split()) <= 5:
        role, place = of.group(1), of.group(2)
        out.add(f"{place} {role}")
        if place in COUNTRY_ADJECTIVES:
            out.add(f"the {COUNTRY_ADJECTIVES[place]} {role}")
    # A numbered office is one person with or without its article ("the former 44th us president");
    # "the british king" is one person and "a british king" is any of them, so only those lose it.
    return out | {v[len("the "):] for v in out if v.startswith("the ") and _ORDINAL.search(v)}


# Countries whose offices the list names, as an adjective ("the chancellor of germany" is "the
# german chancellor").
COUNTRY_ADJECTIVES = {
    "germany": "german", "france": "french", "spain": "spanish", "italy": "italian", "britain": "british",
    "the united kingdom": "british", "united kingdom": "british", "the uk": "british", "uk": "british",
    "england": "english", "scotland": "scottish", "ireland": "irish", "wales": "welsh", "portugal": "portuguese",
    "the netherlands": "dutch", "netherlands": "dutch", "belgium": "belgian", "sweden": "swedish",
    "norway": "norwegian", "denmark": "danish", "finland": "finnish", "poland": "polish", "austria": "austrian",
    "switzerland": "swiss", "greece": "greek", "turkey": "turkish", "russia": "russian", "ukraine": "ukrainian",
    "hungary": "hungarian", "czechia": "czech", "romania": "romanian", "serbia": "serbian", "israel": "israeli",
    "iran": "iranian", "iraq": "iraqi", "syria": "syrian", "egypt": "egyptian", "saudi arabia": "saudi",
    "jordan": "jordanian", "qatar": "qatari", "india": "indian", "pakistan": "pakistani", "china": "chinese",
    "japan": "japanese", "south korea": "south korean", "north korea": "north korean", "taiwan": "taiwanese",
    "indonesia": "indonesian", "the philippines": "filipino", "philippines": "filipino", "vietnam": "vietnamese",
    "thailand": "thai", "australia": "australian", "new zealand": "new zealand", "canada": "canadian",
    "mexico": "mexican", "brazil": "brazilian", "argentina": "argentine", "chile": "chilean",
    "colombia": "colombian", "venezuela": "venezuelan", "cuba": "cuban", "nigeria": "nigerian",
    "south africa": "south african", "kenya": "kenyan", "ethiopia": "ethiopian", "monaco": "monegasque",
}


_ORDINAL = re.compile(r"\b(\d+(st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b")


# Left out of descriptions and of a prompt's second reading (FigureList.find): words that change
# nothing about whom a description picks out.
DESCRIPTION_FILLERS = frozenset("the his her their its this these those current".split())
INDEFINITE = frozenset("a an any some every each another one".split())


def _indefinite(words: list[str], start: int) -> bool:
    """Whether the words before `start` make a description fit many: "a", "former" ("a former
    mexican president" holds "mexican president"), right before or before one more word ("a latin
    american president", "a fictional pope"), but not across a preposition ("a photo of the pope")."""
    def many(word: str) -> bool:
        return word in INDEFINITE or word in _MANY
    return start > 0 and (many(words[start - 1]) or (
        start > 1 and many(words[start - 2]) and words[start - 1] not in PREPOSITIONS))


PREPOSITIONS = frozenset("of with by for to in on at from about as like near beside behind after before "
                         "between among and or".split())


# The fewest letters a name needs to count when read from a transliteration ("srk", "cr7" do not).
MIN_TRANSLITERATED_LETTERS = 5

DETERMINERS = frozenset("a an the this that these those my your his her its our their some any every each no one "
                        "two three another".split())


def raw_descriptions(path: Path) -> list[tuple[str, str]]:
    """(figure id, description) for every description the list at `path` writes."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return [(entry["id"], d) for entry in raw["figures"] for d in entry.get("descriptions", [])]


def load_figures(path: str | None = None, head: str | None = None) -> FigureList:
    """The list (`path`, else GL_PUBLIC_FIGURES, else the shipped one) read also by the figure head
    (`head`, else GL_FIGURE_HEAD, else the shipped one) over the default text embedder; one per
    process for each pair of files."""
    from likeness.figure_head import head_path

    return _load_figures(str(path or setting("GL_PUBLIC_FIGURES") or DEFAULT_FIGURES), head_path(head))


@lru_cache(maxsize=4)
def _load_figures(path: str, head: str) -> FigureList:
    from app.kit.text_embedding import load_text_embedder, text_embedder_model_file
    from likeness.figure_head import load_head

    return FigureList.from_file(Path(path)).with_head(load_head(head, text_embedder_model_file().tag),
                                                      load_text_embedder)
