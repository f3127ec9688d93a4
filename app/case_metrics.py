"""What the metrics page draws and the decision log exports: queue depth and the age of the
oldest open case over time, decisions per day, the share of appeals overturned, reviewer
agreement on quality checks; and every decision as CSV rows."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from app import case_quality
from app.db import as_utc, utcnow
from app.models import Case, CaseKind, CaseState, User


def _day_ends(now: datetime, days: int) -> list[datetime]:
    """The end of each of the last `days` days, today's last (its end is now)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - timedelta(days=days - 1 - i) + timedelta(days=1) for i in range(days)]


def metrics(session: Session, days: int = 14, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    ends = _day_ends(now, days)
    start = ends[0] - timedelta(days=1)
    rows = session.execute(select(Case.queue, Case.kind, Case.created_at, Case.decided_at, Case.decision, Case.state)
                           .where(Case.qa.is_(None),
                                  or_(Case.decided_at.is_(None), Case.decided_at >= start))).all()
    points = [min(t, now) for t in ends]
    depth: dict[str, list[int]] = defaultdict(lambda: [0] * len(points))
    oldest_h = [0.0] * len(points)
    for queue, _kind, created, decided, _decision, _state in rows:
        created, decided = as_utc(created), as_utc(decided)
        for i, t in enumerate(points):
            if created <= t and (decided is None or decided > t):
                depth[queue][i] += 1
                oldest_h[i] = max(oldest_h[i], round((t - created).total_seconds() / 3600, 2))
    per_day = Counter(as_utc(r[3]).date().isoformat() for r in rows if r[3] is not None)
    labels = [(t - timedelta(days=1)).date().isoformat() for t in ends]
    appeals = [r for r in rows if r[1] == CaseKind.APPEAL and r[5] == CaseState.DECIDED]
    overturned = sum(1 for r in appeals if r[4] == "overturn")
    return {
        "labels": labels,
        "queue_depth": dict(sorted(depth.items())),
        "oldest_open_hours": oldest_h,
        "decisions_per_day": [per_day.get(day, 0) for day in labels],
        "appeals_decided": len(appeals),
        "appeal_overturn_rate": round(overturned / len(appeals), 3) if appeals else None,
        "agreement": case_quality.agreement(session),
    }


LOG_FIELDS = ["case_id", "kind", "queue", "decision", "policy_code", "decided_by", "decided_at", "generation_id",
              "statement_id", "appeal_of", "quality_check", "bulk_id", "note"]


def decision_log(session: Session, since: datetime | None = None, until: datetime | None = None,
                 limit: int = 10000) -> list[dict[str, Any]]:
    decider = aliased(User)
    stmt = (select(Case, decider.handle).join(decider, decider.id == Case.decided_by_id)
            .where(Case.state.in_([CaseState.DECIDED.value, CaseState.REOPENED.value])))
    if since:
        stmt = stmt.where(Case.decided_at >= since)
    if until:
        stmt = stmt.where(Case.decided_at < until)
    out = []
    for case, handle in session.execute(stmt.order_by(Case.decided_at.desc()).limit(limit)):
        out.append({"case_id": case.id, "kind": case.kind, "queue": case.queue, "decision": case.decision,
                    "policy_code": case.policy_code, "decided_by": handle,
                    "decided_at": as_utc(case.decided_at).isoformat(), "generation_id": case.generation_id,
                    "statement_id": case.outcome_statement_id, "appeal_of": case.appeal_of_id,
                    "quality_check": case.qa, "bulk_id": (case.details or {}).get("bulk_id"),
                    "note": case.decision_note or ""})
    return out


def decision_log_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, LOG_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # A note starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()
