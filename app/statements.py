"""Statements of reasons: every block, removal and restriction of a generation, in the fields of
the EU DSA transparency database, stored with what led to it and exported for regulators.

The record is a superset of the DSA's: `to_dsa` projects it onto the database's API fields (values
as the database spells them) plus our side (`gl_*`: origin, reasons, redress) for the creator and
our records; `to_submission` is what the database itself gets (`--format dsa`): its fields only,
facts as codes, no user ids, prompts, names or handles. Both speak the database's current schema
(app/dsa.py, checked by `app.dsa.validate`). Categories come from the reasons: a reviewer's policy
code, else safety reasons' `dsa_category`/`dsa_keywords` details, else what the deciding stage
declares (app.domains.dsa_category).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, domains, dsa
from app.config import setting
from app.db import as_utc, new_id, utcnow
from app.models import Generation, StatementOfReasons

# EU 27 + Iceland, Liechtenstein, Norway: where our decisions apply unless configured otherwise.
EEA = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI",
       "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK")

VISIBILITY_DISABLED = "DECISION_VISIBILITY_CONTENT_DISABLED"  # refused before anyone saw it
VISIBILITY_REMOVED = "DECISION_VISIBILITY_CONTENT_REMOVED"
VISIBILITY_AGE_RESTRICTED = "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"
MONETARY_OTHER = "DECISION_MONETARY_OTHER"
GROUND_ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
GROUND_INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
SOURCE_VOLUNTARY = "SOURCE_VOLUNTARY"  # our own gates and reviewers
SOURCE_NOTICE = "SOURCE_ARTICLE_16"  # a rightsholder's claim, a depicted person's removal
AUTOMATED_FULLY = "AUTOMATED_DECISION_FULLY"
AUTOMATED_PARTIALLY = "AUTOMATED_DECISION_PARTIALLY"
NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"
# The only monetary restriction we impose: a rightsholder's monetisation claim (copyright/claims.py).
MONETARY_OTHER_TEXT = ("The video's revenue share is paid to the rightsholder of a work it uses instead of to "
                       "its creator (a monetisation claim).")
CONTENT_TYPES = ["CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_VIDEO"]
# A decision resting on nothing more specific: against our terms (the v2 successor of "scope of
# platform service").
OTHER_TC = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
HUMAN_STAGE = "human_review"

# Categories whose content is illegal in itself, and the law relied on.
_ILLEGAL = {
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS":
        "Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children, and its "
        "national transpositions",
}
_COPYRIGHT_LAW = "Directive 2001/29/EC and Directive (EU) 2019/790 on copyright, and national copyright law"
# Which category wins when a decision rests on several (v2 categories). Our terms' own category
# ranks with sexual content when it carries a keyword (adult sexual material, nudity) and last
# when it carries none.
_PRECEDENCE = ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
               "STATEMENT_CATEGORY_CYBER_VIOLENCE", OTHER_TC, "STATEMENT_CATEGORY_VIOLENCE",
               "STATEMENT_CATEGORY_SELF_HARM", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
               "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
               "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
               "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS")


def terms_url() -> str:
    return setting("GL_TERMS_URL")


def territorial_scope() -> list[str]:
    return list(setting("GL_TERRITORIAL_SCOPE") or EEA)


def public_url(path: str) -> str:
    return setting("GL_PUBLIC_URL").rstrip("/") + path


def redress(statement_id: str, *, appealable: bool = True) -> dict[str, Any]:
    """How to contest a decision: the internal complaint page (once: a decision on an appeal is
    final inside the platform), an out-of-court body, the courts."""
    return {"internal_complaint": public_url(f"/appeals/new?statement_id={statement_id}") if appealable else None,
            "out_of_court_settlement": True, "judicial_redress": True}


def _rank(category: str, keywords: set[str]) -> int:
    if category == OTHER_TC and not keywords:
        return len(_PRECEDENCE) + 1
    return _PRECEDENCE.index(category) if category in _PRECEDENCE else len(_PRECEDENCE)


def categorise(reasons: Iterable[dict[str, Any]]) -> tuple[str, list[str]]:
    """The DSA category and keywords (current schema) of a decision resting on `reasons` (dicts with
    `stage`). A reviewer's policy code decides when it names a category: the person's finding is
    the decision; otherwise the gravest category found wins."""
    found: dict[str, set[str]] = {}
    ruled: tuple[str, list[str]] | None = None
    for reason in reasons:
        details = reason.get("details") or {}
        stage = str(reason.get("stage", ""))
        if stage == HUMAN_STAGE:
            by_code = domains.policy_dsa_category(str(reason.get("code", "")))
            if by_code is not None:
                category, _, keywords = dsa.current(by_code[0], list(by_code[1]))
                ruled = (category, keywords)
            continue
        declared = domains.dsa_category(stage)
        category, keywords = (declared[0], list(declared[1])) if declared else (OTHER_TC, [])
        if details.get("dsa_category"):
            category, keywords = details["dsa_category"], list(details.get("dsa_keywords") or [])
        category, _, keywords = dsa.current(category, keywords)
        found.setdefault(category, set()).update(keywords)
    if ruled is not None:
        return ruled[0], sorted({*ruled[1], *found.get(ruled[0], set())})
    if not found:
        return OTHER_TC, []
    chosen = min(found, key=lambda c: _rank(c, found[c]))
    return chosen, sorted(found[chosen])


def _facts(reasons: list[dict[str, Any]]) -> str:
    lines = [f"{r.get('stage', '')}: {r.get('message', r.get('code', ''))} [{r.get('code', '')}]" for r in reasons]
    return "\n".join(lines)[:5000] or "no reasons recorded"


def issue(session: Session, gen: Generation, *, origin: str, reasons: list[dict[str, Any]],
          visibility: str | None = VISIBILITY_DISABLED, monetary: str | None = None,
          source_type: str = SOURCE_VOLUNTARY, automated_detection: bool = True,
          automated_decision: str = AUTOMATED_FULLY, notice: bool = False,
          supersedes: StatementOfReasons | None = None, case_id: str | None = None,
          appealable: bool = True, explanation: str | None = None) -> StatementOfReasons:
    """Store the statement for one decision on `gen` (reasons: dicts with code, message, stage).

    A decision that replaces an earlier one (an appeal, a dispute) names it in `supersedes`; the
    old statement is kept. `visibility=None` and no `monetary` lifts every restriction."""
    category, keywords = categorise(reasons)
    if category in _ILLEGAL:
        ground, law = GROUND_ILLEGAL, _ILLEGAL[category]
    elif notice and category == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS":
        ground, law = GROUND_ILLEGAL, _COPYRIGHT_LAW  # a rightsholder's notice asserts infringement
    else:
        ground, law = GROUND_INCOMPATIBLE, ""
    explanation = explanation or (
        "The video, or the request for it, " +
        ("is illegal on the legal ground cited." if ground == GROUND_ILLEGAL else
         "breaks the terms of service cited: " + "; ".join(sorted({r.get("code", "") for r in reasons}))))
    statement_id = new_id()
    statement = StatementOfReasons(
        id=statement_id, supersedes_id=supersedes.id if supersedes else None, case_id=case_id,
        generation_id=gen.id, user_id=gen.owner_id, decision_visibility=[visibility] if visibility else [],
        decision_monetary=monetary, decision_ground=ground, decision_ground_reference_url=terms_url(),
        legal_ground=law, explanation=explanation, content_type=list(CONTENT_TYPES), category=category,
        keywords=keywords, territorial_scope=territorial_scope(), decision_facts=_facts(reasons),
        source_type=SOURCE_NOTICE if notice else source_type, automated_detection=automated_detection,
        automated_decision=automated_decision, content_date=as_utc(gen.created_at), application_date=utcnow(),
        origin=origin, reasons=reasons, redress=redress(statement_id, appealable=appealable))
    session.add(statement)
    session.flush()
    audit.record(session, actor="system:statements", action="statement_of_reasons.issued",
                 object_type="generation", object_id=gen.id,
                 after={"statement_id": statement.id, "category": category, "origin": origin,
                        "supersedes": statement.supersedes_id})
    return statement


def restricts(s: StatementOfReasons) -> bool:
    """False for a statement that lifts an earlier restriction (an appeal won): the DSA database
    records restrictions only, so the export leaves these out."""
    return bool(s.decision_visibility or s.decision_monetary)


def superseded_by(session: Session, statement_id: str) -> StatementOfReasons | None:
    return session.scalar(select(StatementOfReasons).where(StatementOfReasons.supersedes_id == statement_id)
                          .order_by(StatementOfReasons.created_at.desc()).limit(1))


# -- reading and export ---------------------------------------------------------------------------

def _date(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d")


def _dsa_fields(s: StatementOfReasons) -> dict[str, Any]:
    """The database's fields, in its current schema, except the facts (to_dsa and to_submission
    state them differently)."""
    category, additions, keywords = dsa.current(s.category, list(s.keywords))
    record: dict[str, Any] = {
        "puid": s.id,
        "decision_visibility": list(s.decision_visibility),
        "decision_monetary": s.decision_monetary,
        "decision_provision": None,
        "decision_account": None,
        "decision_ground": s.decision_ground,
        "decision_ground_reference_url": s.decision_ground_reference_url,
        "content_type": list(s.content_type),
        "category": category,
        "category_specification": keywords,
        "territorial_scope": list(s.territorial_scope),
        "content_date": _date(s.content_date),
        "application_date": _date(s.application_date),
        "source_type": s.source_type,
        "automated_detection": "Yes" if s.automated_detection else "No",
        "automated_decision": s.automated_decision,
    }
    if additions:
        record["category_addition"] = additions
    if s.decision_monetary == MONETARY_OTHER:
        record["decision_monetary_other"] = MONETARY_OTHER_TEXT
    if s.decision_ground == GROUND_ILLEGAL:
        record |= {"illegal_content_legal_ground": s.legal_ground, "illegal_content_explanation": s.explanation}
    else:
        record |= {"incompatible_content_ground": s.decision_ground_reference_url,
                   "incompatible_content_explanation": s.explanation, "incompatible_content_illegal": "No"}
    return record


def to_dsa(s: StatementOfReasons) -> dict[str, Any]:
    """The statement as the DSA transparency database's API takes it, plus our fields (prefixed
    `gl_*`) and the facts as recorded: for the creator and our own records, not for submission."""
    return {**_dsa_fields(s), "decision_facts": s.decision_facts,
            "gl_generation_id": s.generation_id, "gl_user_id": s.user_id, "gl_origin": s.origin,
            "gl_reasons": list(s.reasons), "gl_redress": dict(s.redress),
            "gl_supersedes": s.supersedes_id, "gl_created_at": as_utc(s.created_at).isoformat()}


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def _token(value: Any) -> str | None:
    """A code we wrote (a stage, a reason code, a policy code, a category name), or None: nothing a
    person typed passes as a code."""
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


_ORIGINS = {
    "pre_render": "Decided by automated checks on the request, before the video was made.",
    "post_render": "Decided by automated checks on the rendered video.",
    "human_review": "Decided by a reviewer on a request or video held for review.",
    "appeal_upheld": "On the creator's appeal, a second reviewer upheld the decision.",
    "appeal_overturned": "On the creator's appeal, a second reviewer overturned the decision.",
    "video_claim": "A rightsholder's notice about a work the video uses.",
    "dispute_upheld": "The creator disputed a rightsholder's claim; a reviewer upheld the claim.",
    "dispute_overturned": "The creator disputed a rightsholder's claim; a reviewer released it.",
    "co_owner_deletion": "A person shown in the video, who consented to appear in it, deleted it.",
    "cameo_consent_revoked": "A person shown in the video revoked the consent to appear in it.",
    "likeness_complaint": "A person complained that the video shows them without consent.",
    "likeness_complaint_upheld": "A reviewer upheld a person's complaint that the video shows them.",
    "likeness_complaint_rejected": "A reviewer rejected a person's complaint that the video shows them.",
}


def public_facts(s: StatementOfReasons) -> str:
    """The facts relied on, for the database: which checks and which people decided, by their codes
    and our fixed wording, never the prompt, a matched phrase, a note, a claim's text, a name, a
    handle or an id (the database publishes them; DSA Art. 24(5))."""
    from app import cases

    titles = cases.policy_codes()
    lines: list[str] = []
    for reason in s.reasons:
        stage, code = _token(reason.get("stage")) or "check", _token(reason.get("code")) or "unspecified"
        details = reason.get("details") or {}
        if stage == HUMAN_STAGE:
            line = f"A reviewer decided under policy {code}" + (f" ({titles[code]})" if code in titles else "")
        else:
            extra = [f"{label} {value}" for label, key in (("category", "category"), ("level", "level"),
                                                             ("action", "action"))
                     if (value := _token(details.get(key)))]
            line = f"{stage}: {code}" + (f" ({', '.join(extra)})" if extra else "")
        if line not in lines:
            lines.append(line)
    lines.append(_ORIGINS.get(s.origin, f"Decision: {_token(s.origin) or 'restriction'}."))
    return "\n".join(lines)[:5000]


def to_submission(s: StatementOfReasons) -> dict[str, Any]:
    """What the database gets: its fields only (app/data/dsa_rules.json), nulls left out."""
    record = {**_dsa_fields(s), "decision_facts": public_facts(s)}
    return {k: v for k, v in record.items() if v is not None}


def since(session: Session, start: datetime, end: datetime | None = None) -> list[StatementOfReasons]:
    stmt = select(StatementOfReasons).where(StatementOfReasons.created_at >= start)
    if end is not None:
        stmt = stmt.where(StatementOfReasons.created_at < end)
    return list(session.scalars(stmt.order_by(StatementOfReasons.created_at, StatementOfReasons.id)))


def for_generation(session: Session, generation_id: str) -> list[StatementOfReasons]:
    return list(session.scalars(select(StatementOfReasons).where(StatementOfReasons.generation_id == generation_id)
                                .order_by(StatementOfReasons.created_at, StatementOfReasons.id)))


FORMATS = ("json", "csv", "dsa")


def submissions(statements: Iterable[StatementOfReasons]) -> tuple[str, dict[str, list[str]]]:
    """(JSON lines of the submissions the database's rules accept, the problems of those they
    refuse by puid): only what it would take leaves; the rest is for an operator to fix."""
    records = [to_submission(s) for s in statements if restricts(s)]
    refused = dsa.validate_batch(records)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records
                   if str(r.get("puid")) not in refused)
    return text, refused


def export(statements: Iterable[StatementOfReasons], fmt: str) -> str:
    """JSON lines, or CSV with list and object fields as JSON (as the database's own CSV dumps), of
    our records (`to_dsa`); `dsa`: JSON lines of submissions to the database that its rules accept
    (`submissions`)."""
    if fmt == "dsa":
        return submissions(statements)[0]
    records = [to_dsa(s) for s in statements if restricts(s)]
    if fmt == "json":
        return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    if fmt != "csv":
        raise ValueError(fmt)
    fields = sorted({key for r in records for key in r}) or sorted(to_dsa_fields())
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else
                         ("" if v is None else v) for k, v in r.items()})
    return out.getvalue()


def to_dsa_fields() -> list[str]:
    return ["puid", "decision_visibility", "decision_monetary", "decision_provision", "decision_account",
            "decision_ground", "decision_ground_reference_url", "content_type", "category",
            "category_specification", "territorial_scope", "content_date", "application_date", "decision_facts",
            "source_type", "automated_detection", "automated_decision", "gl_generation_id", "gl_user_id",
            "gl_origin", "gl_reasons", "gl_redress", "gl_supersedes", "gl_created_at"]
