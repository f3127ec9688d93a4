"""The shipped catalogue of well-known works and characters: known but unclaimed, so default-deny."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.config import setting
from app.stage import Decision
from app.kit.textmatch import (Match, NativeAliases, PhraseIndex, appears_capitalised, has_other_script, tokens,
                               transliterate)

DEFAULT_WORKS = Path(__file__).parent / "data" / "works.json"
# The best-known titles and characters as other languages write them (its "source" says whence).
TITLES_IN_OTHER_SCRIPTS = Path(__file__).parent / "data" / "works_i18n.json"

# Words that say a work is meant, which make an ambiguous title ("Frozen", "Up", "Cars") count.
WORK_CONTEXT_WORDS = (
    "movie", "film", "show", "series", "episode", "character", "cartoon", "animated", "anime", "disney",
    "pixar", "dreamworks", "marvel", "dc", "nintendo", "pokemon", "game", "video game", "franchise", "comic",
    "scene from", "sequel", "trailer", "fan art", "cosplay", "princess", "superhero",
)


@dataclass(frozen=True)
class Work:
    id: str
    title: str
    kind: str
    owner: str
    franchise: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkRef:
    work: Work
    decision: Decision
    via: str
    phrase: str


class Catalogue:
    def __init__(self, version: str, works: list[Work], index: PhraseIndex, ambiguous: PhraseIndex,
                 context: PhraseIndex):
        self.version, self.works = version, works
        self._index, self._ambiguous, self._context = index, ambiguous, context
        self._by_id = {w.id: w for w in works}
        self._native: NativeAliases = NativeAliases()

    def by_id(self, work_id: str) -> Work | None:
        return self._by_id.get(work_id)

    @classmethod
    def from_file(cls, path: Path, native_path: Path | None = TITLES_IN_OTHER_SCRIPTS) -> "Catalogue":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        catalogue = cls.from_entries(str(raw.get("version", "0")), raw["works"])
        def ref(decision: Decision, via: str):
            return lambda work_id, name: (WorkRef(catalogue.by_id(work_id), decision, via, name)
                                          if catalogue.by_id(work_id) is not None else None)
        # Titles that are also phrases there ("Холодное сердце", a cold heart) review, never block,
        # as the English ambiguous titles do.
        catalogue._native, native_version = NativeAliases.from_file(
            native_path, ref(Decision.BLOCK, "title_in_other_script"),
            ambiguous=ref(Decision.REVIEW, "ambiguous_title_in_other_script"))
        if native_version:
            catalogue.version += f"+i18n-{native_version}"
        return catalogue

    @classmethod
    def from_entries(cls, version: str, entries: list[dict]) -> "Catalogue":
        """Entries shaped like works.json's (id, title, kind, owner, aliases, ambiguous_aliases,
        descriptions): the shipped file, or the works organisations registered."""
        index: PhraseIndex = PhraseIndex(plurals_stay_plural=True)
        ambiguous_index: PhraseIndex = PhraseIndex(plurals_stay_plural=True)
        works = []
        for entry in entries:
            work = Work(entry["id"], entry["title"], entry.get("kind", "work"), entry.get("owner", "unknown"),
                        entry.get("franchise", entry["title"]), tuple(entry.get("aliases", ())))
            works.append(work)
            ambiguous = {a.casefold() for a in entry.get("ambiguous_aliases", [])}
            for phrase in (work.title, *entry.get("aliases", [])):
                if phrase.casefold() not in ambiguous:
                    index.add(phrase, WorkRef(work, Decision.BLOCK, "title", phrase))
            for phrase in entry.get("ambiguous_aliases", []):
                ambiguous_index.add(phrase, WorkRef(work, Decision.REVIEW, "ambiguous_title", phrase))
            for phrase in entry.get("descriptions", []):
                index.add(phrase, WorkRef(work, Decision.REVIEW, "description", phrase))
        context: PhraseIndex = PhraseIndex()
        context.add_all(WORK_CONTEXT_WORDS, "context")
        return cls(version, works, index, ambiguous_index, context)

    def find(self, text: str) -> list[WorkRef]:
        refs = [m.payload for m in self._index.find(text)]
        # "a frozen lake" is not Frozen: an ambiguous title counts when written as a title or
        # next to words that say a work is meant ("the movie frozen", "disney's frozen"). Next to,
        # not anywhere: "close-up of an old film projector" is not Up, nor "a car" in a prompt
        # about a video game Cars.
        toks = tokens(text)
        context = self._context.every_match(toks)
        refs += [m.payload for m in self._ambiguous.every_match(toks)
                 if any(_near(m, c) for c in context) or appears_capitalised(text, m.payload.phrase)]
        # Titles as other languages write them, Spanish or Portuguese in Latin letters too
        # ("Procurando Nemo"); and a text in another script read in Latin letters, whole titles only.
        refs += [ref for _, ref in self._native.find(text)]
        if has_other_script(text):
            refs += [m.payload for m in self._index.find(transliterate(text)) if m.payload.via == "title"]
        best: dict[str, WorkRef] = {}
        for ref in refs:
            held = best.get(ref.work.id)
            if held is None or (held.decision == Decision.REVIEW and ref.decision == Decision.BLOCK):
                best[ref.work.id] = ref
        return list(best.values())


CONTEXT_GAP = 2   # words that may stand between an ambiguous title and a word saying a work is meant


def _near(title: Match, context: Match) -> bool:
    gap = context.start - title.end if context.start >= title.end else title.start - context.end
    return gap <= CONTEXT_GAP


@lru_cache(maxsize=4)
def load_catalogue(path: str | None = None) -> Catalogue:
    return Catalogue.from_file(Path(path or setting("GL_WORKS_CATALOGUE") or DEFAULT_WORKS))
