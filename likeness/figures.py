"""The shipped public-figure list: names, aliases and descriptions, matched in prompts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from app.config import setting
from app.stage import Decision
from app.kit.textmatch import PhraseIndex, appears_capitalised

DEFAULT_FIGURES = Path(__file__).parent / "data" / "public_figures.json"


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


class FigureList:
    def __init__(self, version: str, figures: list[Figure], index: PhraseIndex):
        self.version, self.figures, self._index = version, figures, index

    @classmethod
    def from_file(cls, path: Path) -> "FigureList":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        index: PhraseIndex = PhraseIndex()
        figures = []
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
                index.add(phrase, FigureRef(fig, Decision.REVIEW, "description", phrase))
        return cls(str(raw.get("version", "0")), figures, index)

    def find(self, text: str) -> list[FigureRef]:
        best: dict[str, FigureRef] = {}
        for match in self._index.find(text):
            ref: FigureRef = match.payload
            # "a swift bird" is not Taylor Swift: an ambiguous name counts only written as a name.
            if ref.via == "ambiguous_name" and not appears_capitalised(text, ref.phrase):
                continue
            held = best.get(ref.figure.id)
            if held is None or (held.decision == Decision.REVIEW and ref.decision == Decision.BLOCK):
                best[ref.figure.id] = ref
        return list(best.values())


@lru_cache(maxsize=4)
def load_figures(path: str | None = None) -> FigureList:
    return FigureList.from_file(Path(path or setting("GL_PUBLIC_FIGURES") or DEFAULT_FIGURES))
