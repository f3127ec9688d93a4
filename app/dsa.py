"""The EU DSA Transparency Database's submission rules (schema v2, in force since 1 July 2025) and a
validator that applies them to a statement as we would submit it.

The rules are data, app/data/dsa_rules.json, read from the database's own source (its header names
the files and the commit): the store request's validation (required fields, required-if and
exclude-unless pairs, lengths, dates, the puid pattern), the model's allowed values, and the
taxonomy's pairing of keywords (`category_specification`) with categories. `validate` returns every
problem, not the first, so a test or an operator sees all that the database would refuse.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RULES_FILE = Path(__file__).parent / "data" / "dsa_rules.json"

# v1 values retired on 1 July 2025 and what a stored statement carrying one is submitted as:
# (v2 category, keywords to add). Mapped by what our own decisions meant by them.
LEGACY_CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # likeness: a real person shown without consent (deepfake); safety: harassment
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR": ("STATEMENT_CATEGORY_CYBER_VIOLENCE", ()),
    # adult sexual content is against our terms, not illegal in itself
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT": ("STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
                                                            ("KEYWORD_ADULT_SEXUAL_MATERIAL",)),
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE": ("STATEMENT_CATEGORY_OTHER_VIOLATION_TC", ()),
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS": ("STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", ()),
}
LEGACY_KEYWORDS: dict[str, str | None] = {
    "KEYWORD_ONLINE_BULLYING_INTIMIDATION": "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_INSUFFICIENT_INFORMATION_TRADERS": "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS",
    "KEYWORD_DISINFORMATION": "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_MISINFORMATION": "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_FOREIGN_INFORMATION_MANIPULATION": "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE": "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_IMAGE_BASED_SEXUAL_ABUSE": "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "KEYWORD_REGULATED_GOODS_SERVICES": None, "KEYWORD_DANGEROUS_TOYS": "KEYWORD_UNSAFE_PRODUCTS",
    "KEYWORD_GENDER_BASED_VIOLENCE": None,
}


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    return json.loads(RULES_FILE.read_text(encoding="utf-8"))


def categories() -> tuple[str, ...]:
    return tuple(rules()["enums"]["category"]["values"])


def keywords() -> tuple[str, ...]:
    return tuple(rules()["enums"]["category_specification"]["values"])


def label(code: str) -> str | None:
    """The database's own wording of a category or keyword (None for other codes)."""
    return rules()["labels"].get(code)


def category_of_keyword(keyword: str) -> str | None:
    """The category a keyword specifies in the taxonomy (None: the catch-alls, or unknown)."""
    for category, listed in rules()["keywords_by_category"].items():
        if keyword in listed:
            return category
    return None


def keyword_fits(keyword: str, category: str) -> bool:
    return keyword in rules()["keywords_any_category"] or keyword in rules()["keywords_by_category"].get(category, ())


def current(category: str, keywords_: list[str] | tuple[str, ...]) -> tuple[str, list[str], list[str]]:
    """(category, category_addition, category_specification) in the current schema for a category
    and keywords as stored: retired values mapped to their successors, and a keyword that
    specifies another category than the main one brings that category in as an addition (the
    taxonomy pairs each keyword with one category)."""
    category, extra = LEGACY_CATEGORIES.get(category, (category, ()))
    found: list[str] = []
    for keyword in [*keywords_, *extra]:
        keyword = LEGACY_KEYWORDS.get(keyword, keyword)
        if keyword and keyword in keywords() and keyword not in found:
            found.append(keyword)
    additions = sorted({c for k in found if not keyword_fits(k, category) and (c := category_of_keyword(k))})
    return category, additions, sorted(found)


# -- validation ------------------------------------------------------------------------------------

def _blank(value: Any) -> bool:
    """Laravel's `required`: null, an empty string (after trimming) or an empty list fails."""
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, (list, dict)) and
                                                                                not value)


def _condition(record: dict[str, Any], rule: dict[str, Any]) -> bool:
    value = record.get(rule["when"])
    if "contains" in rule:
        return isinstance(value, list) and rule["contains"] in value
    if "equals" in rule:
        return value == rule["equals"]
    return value != rule["not_equals"]


def _when(rule: dict[str, Any]) -> str:
    if "contains" in rule:
        return f"has {rule['contains']}"
    return f"is {rule['equals']}" if "equals" in rule else f"is not {rule['not_equals']}"


def _date(text: Any) -> date | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def validate(record: dict[str, Any], *, strict: bool = True) -> list[str]:
    """Every reason the database would refuse `record` (an API submission), as `field: problem`.

    `strict` also refuses fields the database does not know (it would drop them silently; ours
    would carry our own data out) and keywords that specify another category than the statement's
    main or additional ones (the database accepts them, but they misstate the decision)."""
    r = rules()
    problems: list[str] = []
    if strict:
        problems += [f"{k}: not a field of the database" for k in sorted(set(record) - set(r["fields"]))]
    for field in r["required"]:
        if _blank(record.get(field)):
            problems.append(f"{field}: required")
    if all(_blank(record.get(f)) for f in r["required_one_of"]):
        problems.append(f"{'/'.join(r['required_one_of'])}: one restriction is required")
    for rule in r["required_if"]:
        if _condition(record, rule) and _blank(record.get(rule["field"])):
            problems.append(f"{rule['field']}: required when {rule['when']} {_when(rule)}")
    if strict:
        for rule in r["excluded_unless"]:
            if rule["field"] in record and not _condition(record, rule) and record[rule["field"]] is not None:
                problems.append(f"{rule['field']}: only sent when {rule['when']} {_when(rule)}")
    for field, spec in r["enums"].items():
        value = record.get(field)
        if value is None:
            continue
        allowed = set(spec["values"])
        if spec.get("list"):
            if not isinstance(value, list):
                problems.append(f"{field}: must be a list")
                continue
            bad = [v for v in value if v not in allowed]
        else:
            bad = [] if value in allowed else [value]
        retired = set(r["retired_v1"]["categories"]) | set(r["retired_v1"]["keywords"])
        for v in bad:
            problems.append(f"{field}: {v!r} is {'a retired v1 value' if v in retired else 'not an allowed value'}")
    for field, limit in r["max_length"].items():
        value = record.get(field)
        if isinstance(value, str) and len(value) > limit:
            problems.append(f"{field}: longer than {limit} characters ({len(value)})")
        elif value is not None and not isinstance(value, str):
            problems.append(f"{field}: must be text")
    for field in r["url"]:
        value = record.get(field)
        if value is not None:
            parts = urlsplit(str(value))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append(f"{field}: not a URL")
    for field, spec in r["dates"].items():
        value = record.get(field)
        if value is None:
            continue
        parsed = _date(value)
        if parsed is None:
            problems.append(f"{field}: not a YYYY-MM-DD date ({value!r})")
            continue
        if "from" in spec and parsed < date.fromisoformat(spec["from"]):
            problems.append(f"{field}: before {spec['from']}")
        if parsed > date.fromisoformat(spec["to"]):
            problems.append(f"{field}: after {spec['to']}")
    for field, pattern in r["patterns"].items():
        value = record.get(field)
        if value is not None and not re.fullmatch(pattern, str(value)):
            problems.append(f"{field}: does not match {pattern}")
    if record.get("automated_detection") is not None and not isinstance(record["automated_detection"], str):
        problems.append("automated_detection: must be 'Yes' or 'No'")
    if strict and isinstance(record.get("category_specification"), list):
        own = {record.get("category"), *(record.get("category_addition") or [])}
        for keyword in record["category_specification"]:
            if keyword in keywords() and not any(keyword_fits(keyword, c) for c in own if isinstance(c, str)):
                problems.append(f"category_specification: {keyword} specifies {category_of_keyword(keyword)}, "
                                f"not the statement's category {record.get('category')}")
    return problems


def validate_batch(records: list[dict[str, Any]], *, strict: bool = True) -> dict[str, list[str]]:
    """Problems by puid (or `#<index>`), a puid sent twice included (the database refuses it)."""
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, record in enumerate(records):
        key = str(record.get("puid") or f"#{i}")
        problems = validate(record, strict=strict)
        if record.get("puid") in seen:
            problems.append("puid: sent twice")
        seen.add(str(record.get("puid")))
        if problems:
            out[key] = problems
    return out
