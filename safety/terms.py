"""The term policy: per-category block and review phrases over normalised prompt text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.config import setting
from app.stage import Decision
from app.kit.textmatch import PhraseIndex, fold

DEFAULT_TERMS = Path(__file__).parent / "data" / "terms.toml"


class PolicyFileError(ValueError):
    pass


def check_dsa_category(category: str, keywords: list[str]) -> str | None:
    """None, or why a data file's DSA category and keywords would be refused by the DSA
    transparency database (app/dsa.py: the current schema, each keyword under its own category)."""
    from app import dsa

    if not category:
        return "needs a dsa_category" if keywords else None
    if category not in dsa.categories():
        return f"dsa_category {category} is not a category of the DSA database's current schema"
    wrong = [k for k in keywords if k not in dsa.keywords() or not dsa.keyword_fits(k, category)]
    return f"dsa_keywords {wrong} do not specify {category}" if wrong else None


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    dsa_category: str
    always_block: bool
    dsa_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermHit:
    category: Category
    term: str
    decision: Decision


class TermPolicy:
    def __init__(self, version: str, categories: dict[str, Category], index: PhraseIndex,
                 minor_terms: PhraseIndex, minors_category: Category | None):
        self.version = version
        self.categories = categories
        self._index = index
        self._minor_terms = minor_terms
        self._minors_category = minors_category

    @classmethod
    def from_file(cls, path: Path) -> "TermPolicy":
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyFileError(f"cannot read term policy {path}: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> "TermPolicy":
        if "version" not in raw or not isinstance(raw.get("categories"), dict) or not raw["categories"]:
            raise PolicyFileError(f"{source}: needs `version` and at least one [categories.NAME] table")
        index: PhraseIndex = PhraseIndex()
        minors: PhraseIndex = PhraseIndex()
        categories: dict[str, Category] = {}
        minors_category = None
        for name, table in raw["categories"].items():
            unknown = set(table) - {"label", "dsa_category", "dsa_keywords", "always_block", "block", "review",
                                    "minor_terms"}
            if unknown:
                raise PolicyFileError(f"{source}: category {name} has unknown keys {sorted(unknown)}")
            dsa_problem = check_dsa_category(table.get("dsa_category", ""), table.get("dsa_keywords", []))
            if dsa_problem:
                raise PolicyFileError(f"{source}: category {name}: {dsa_problem}")
            cat = Category(name, table.get("label", name), table.get("dsa_category", ""),
                           bool(table.get("always_block", False)), tuple(table.get("dsa_keywords", ())))
            categories[name] = cat
            for term in table.get("block", []):
                index.add(term, TermHit(cat, term, Decision.BLOCK))
            # An always-block category never sends anything to review: a hit blocks.
            review_decision = Decision.BLOCK if cat.always_block else Decision.REVIEW
            for term in table.get("review", []):
                index.add(term, TermHit(cat, term, review_decision))
            if table.get("minor_terms"):
                minors_category = cat
                for term in table["minor_terms"]:
                    minors.add(term, term)
        return cls(str(raw["version"]), categories, index, minors, minors_category)

    @property
    def minors_category(self) -> Category | None:
        """The category whose `minor_terms` turn sexual content into content involving minors."""
        return self._minors_category

    def minor_reference(self, text: str) -> str | None:
        """The first reference to a minor in `text`: a `minor_terms` phrase ("schoolgirl", "young
        boy", "twelve year old") or an age under 18 in digits ("12 year old", "13yo", "15 y/o",
        "aged 9"), else None. Digits are read from the folded text: leetspeak would make "12yo" a word."""
        found = self._minor_terms.find(text)
        if found:
            return found[0].payload
        age = _MINOR_AGE.search(fold(text))
        return age.group(0) if age else None

    def evaluate(self, text: str) -> list[TermHit]:
        hits = [m.payload for m in self._index.find(text)]
        # Sexual terms next to a reference to a minor are sexual content involving minors.
        if self._minors_category is not None and any(h.category.name == "sexual" for h in hits):
            minor = self.minor_reference(text)
            if minor:
                hits.append(TermHit(self._minors_category, minor, Decision.BLOCK))
        return hits


# An age from 0 to 17 written in digits: "12 year old", "12-year-old", "12 years old", "12yo",
# "12 y/o", "12 y.o.", "aged 12", "age: 12". Not "12 years" of anything else, not "112 year old".
_MINOR_AGE = re.compile(
    r"(?<![\d.])(?:1[0-7]|[0-9])\s*(?:-\s*)?(?:years?[\s-]*old|yrs?[\s-]*old|y\s*/\s*o|y\.\s*o\.?|yo)\b"
    r"|\bage[sd]?\s*:?\s*(?:1[0-7]|[0-9])(?![\d.])")


@lru_cache(maxsize=4)
def load_policy(path: str | None = None) -> TermPolicy:
    return TermPolicy.from_file(Path(path or setting("GL_SAFETY_TERMS") or DEFAULT_TERMS))
