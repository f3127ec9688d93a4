"""The declarative safety policy: what a finding of each category does, for adults and for teen
accounts (safety/data/policy.toml, or GL_SAFETY_POLICY).

Classifiers say how sure they are that content falls into a category, by their own calibrated
cut-offs: a `possible` finding (the review cut-off), a `likely` one (the block cut-off, or a review
term that meaning confirms) or a `certain` one (a block term: score 1.0). The policy says what each does: `allow`, `review`, `block` or `age_restrict`
(published, hidden from teen accounts). A score rule can treat a possible finding as likely from
a given score. Every change gets a new `version`, which is recorded on each verdict.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from app.config import setting

DEFAULT_POLICY = Path(__file__).parent / "data" / "policy.toml"
AUDIENCES = ("adult", "teen")
# `certain`: a block term, the classifier's surest (score 1.0); a file that does not set it treats
# it as `likely`.
LEVELS = ("possible", "likely", "certain")


class Action(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"
    AGE_RESTRICT = "age_restrict"


_SEVERITY = {Action.ALLOW: 0, Action.AGE_RESTRICT: 1, Action.REVIEW: 2, Action.BLOCK: 3}


class PolicyError(ValueError):
    """The policy file is not valid; `problems` lists every fault found, not just the first."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source, self.problems = source, problems


@dataclass(frozen=True)
class CategoryRule:
    name: str
    actions: dict[tuple[str, str], Action]  # (audience, level) -> action
    likely_from: float | None = None  # a possible finding scoring at least this counts as likely
    always_block: bool = False


@dataclass(frozen=True)
class SafetyPolicy:
    version: str
    sha256: str
    categories: dict[str, CategoryRule]

    def action(self, category: str, level: str, *, teen: bool, score: float | None = None) -> Action:
        rule = self.categories.get(category)
        if rule is None:  # a category the policy does not know is held, never waved through
            return Action.REVIEW
        if level == "possible" and rule.likely_from is not None and score is not None and score >= rule.likely_from:
            level = "likely"
        return rule.actions[("teen" if teen else "adult", level)]

    @property
    def tag(self) -> str:
        return f"policy-{self.version}"

    def table(self) -> list[tuple[str, ...]]:
        """(category, adult possible, likely, certain, teen possible, likely, certain) for people to read."""
        return [(name, *(rule.actions[(a, lv)].value for a in AUDIENCES for lv in LEVELS))
                for name, rule in sorted(self.categories.items())]


def parse(raw: dict, *, source: str = "<policy>", sha256: str = "", required: set[str] | None = None,
          always_block: set[str] | None = None) -> SafetyPolicy:
    """Validate a policy document. `required`: categories the classifiers report (each needs a
    rule); `always_block`: categories that must block for everyone at every level."""
    problems: list[str] = []
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append("`version` (a string) is required")
    tables = raw.get("categories")
    if not isinstance(tables, dict) or not tables:
        problems.append("[categories.NAME] tables are required")
        tables = {}
    unknown_top = set(raw) - {"version", "categories", "description"}
    if unknown_top:
        problems.append(f"unknown top-level keys {sorted(unknown_top)}")
    rules: dict[str, CategoryRule] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.append(f"categories.{name} must be a table")
            continue
        unknown = set(table) - {*LEVELS, "teen", "likely_from", "always_block", "description"}
        if unknown:
            problems.append(f"categories.{name}: unknown keys {sorted(unknown)}")
        teen = table.get("teen", {})
        if not isinstance(teen, dict) or set(teen) - set(LEVELS):
            problems.append(f"categories.{name}.teen may set only {list(LEVELS)}")
            teen = {}
        actions: dict[tuple[str, str], Action] = {}
        for level in LEVELS:
            for audience, value in (("adult", table.get(level)), ("teen", teen.get(level, table.get(level)))):
                if level == "certain" and value is None:
                    value = actions.get((audience, "likely"), Action.REVIEW).value
                try:
                    actions[(audience, level)] = Action(value)
                except ValueError:
                    problems.append(f"categories.{name}: {audience} {level} must be one of "
                                    f"{[a.value for a in Action]}, not {value!r}")
        for level in LEVELS:
            adult, young = actions.get(("adult", level)), actions.get(("teen", level))
            if adult and young and _SEVERITY[young] < _SEVERITY[adult]:
                problems.append(f"categories.{name}: teen {level} ({young}) is more lenient than adult ({adult})")
            if young == Action.AGE_RESTRICT:
                problems.append(f"categories.{name}: age_restrict hides content from teens; a teen's own "
                                f"{level} finding must be allow, review or block")
        for audience in AUDIENCES:
            for weaker, stronger in zip(LEVELS, LEVELS[1:]):
                low, high = actions.get((audience, weaker)), actions.get((audience, stronger))
                if low and high and _SEVERITY[high] < _SEVERITY[low]:
                    problems.append(f"categories.{name}: {audience} {stronger} ({high}) is more lenient than "
                                    f"{weaker} ({low})")
        likely_from = table.get("likely_from")
        if likely_from is not None and (not isinstance(likely_from, (int, float)) or not 0 < likely_from <= 1):
            problems.append(f"categories.{name}.likely_from must be a score in (0, 1]")
        forced = bool(table.get("always_block")) or name in (always_block or set())
        if forced and any(a != Action.BLOCK for a in actions.values()):
            problems.append(f"categories.{name} must block at every level for everyone (sexual content involving "
                            "minors is never reviewable to allow)")
        rules[name] = CategoryRule(name, actions, float(likely_from) if likely_from is not None else None, forced)
    missing = sorted((required or set()) - set(rules))
    if missing:
        problems.append(f"no rule for the categories {missing}")
    if problems:
        raise PolicyError(source, problems)
    return SafetyPolicy(str(version), sha256, rules)


def load_file(path: str | os.PathLike[str], *, required: set[str] | None = None,
              always_block: set[str] | None = None) -> SafetyPolicy:
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(str(path), [f"cannot read it: {exc}"]) from exc
    return parse(raw, source=str(path), sha256=hashlib.sha256(data).hexdigest(), required=required,
                 always_block=always_block)


def classifier_categories() -> tuple[set[str], set[str]]:
    """(every category the classifiers report, those that must always block), from their data
    files: the term policy (prompts and speech) and the frame cut-offs (images)."""
    from safety import frames
    from safety.terms import load_policy as load_terms

    terms = load_terms()
    frame_file = setting(frames.POLICY_ENV) or frames.DEFAULT_POLICY
    frame_categories = set(tomllib.loads(Path(frame_file).read_text(encoding="utf-8")).get("categories", {}))
    return set(terms.categories) | frame_categories, {n for n, c in terms.categories.items() if c.always_block}


@lru_cache(maxsize=4)
def load_policy(path: str | None = None) -> SafetyPolicy:
    """The policy in force (cached per process), checked against the classifiers' categories."""
    required, forced = classifier_categories()
    return load_file(path or setting("GL_SAFETY_POLICY") or DEFAULT_POLICY, required=required,
                     always_block=forced)
