"""The revenue ledger in the database: the split and postings of `copyright.ledger`, stored
append-only, with periods that close and statements per rightsholder.

Who is paid for a revenue event on a published video: see `copyright.ledger` (platform fee,
the works' shares per the policy recorded at generation time, the remix chain). A monetise
claim redirects the video creator's own share from the claim's date: while the claim is open
or disputed it is held in `escrow:claim:<id>`; when a reviewer upholds it the escrow and later
revenue go to the claimant, when released they go back to the creator. A monetise claim on a
work that already earns its licensed share from the video redirects nothing (the share is paid once).

Bounds: an event is refused before its video existed, or later than now plus a small clock-skew
tolerance (GL_LEDGER_FUTURE_TOLERANCE), or in a currency ISO 4217 does not list. Periods are
'YYYY-MM' months; only a month that has ended can be closed, and an admin may reopen one with a
reason. An event (or correction) whose own month is closed is booked in the current open month
as an adjustment naming the closed month (`adjusts_period`), and shown as such on statements.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.config import setting
from app.db import as_utc, new_id, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Generation, Status, User
from copyright import ledger, ledger_chain
from copyright.claims_in_force import monetising_claim
from copyright.models import (
    GenerationWork, LedgerEntry, LedgerLine, LedgerPeriodChange, PeriodAction, PolicyKind, VideoClaim,
    VideoClaimStatus, WorkPolicy,
)

RULE = ledger.SplitRule()
_REDIRECTED = "redirected-creator"  # stands in for the root creator while a claim redirects their share


def period_of(moment: datetime) -> str:
    """'YYYY-MM' of the moment in UTC, always four digits for the year (strftime's %Y gives "1"
    for the year 1 on glibc, a period no month string ever matches)."""
    moment = as_utc(moment).astimezone(timezone.utc)
    return f"{moment.year:04d}-{moment.month:02d}"


def _as_error(exc: ledger.LedgerError) -> ValidationFailed:
    return ValidationFailed(exc.message, code=exc.code, details=exc.details)


# -- building the video chain from the database ---------------------------------------------------

def _work_uses(session: Session, generation_id: str) -> tuple[ledger.WorkUse, ...]:
    rows = session.execute(select(GenerationWork, WorkPolicy).join(WorkPolicy, WorkPolicy.id == GenerationWork.policy_id)
                           .where(GenerationWork.generation_id == generation_id,
                                  GenerationWork.decision == "allow",
                                  WorkPolicy.kind == PolicyKind.ALLOW_WITH_REVENUE_SHARE.value)
                           .order_by(GenerationWork.work_id))
    return tuple(ledger.WorkUse(gw.work_id, policy.org_id, policy.share_bp) for gw, policy in rows)


def video_node(session: Session, gen: Generation, depth: int = 0) -> ledger.VideoNode:
    parent = None
    if gen.remix_of_id and depth < RULE.max_depth:
        parent = video_node(session, session.get(Generation, gen.remix_of_id), depth + 1)
    return ledger.VideoNode(gen.id, gen.owner_id, _work_uses(session, gen.id), parent)


def licensed_share_works(node: ledger.VideoNode) -> set[str]:
    """The works that earn a licensed revenue share from the video (its own or along its remix chain)."""
    found: set[str] = set()
    depth, current = 0, node
    while current is not None and depth <= RULE.max_depth:
        found.update(w.work_id for w in current.works if w.share_bp > 0)
        current, depth = current.parent, depth + 1
    return found


def _creator_target(claim: VideoClaim | None, occurred_at: datetime, node: ledger.VideoNode) -> str | None:
    """Where the root creator's share goes instead of them, if a monetise claim covers the event."""
    if claim is None or occurred_at < as_utc(claim.effective_at or claim.created_at):
        return None
    if claim.work_id in licensed_share_works(node):
        return None  # its rightsholder is paid its share already: the creator's remainder stays theirs
    if claim.status == VideoClaimStatus.UPHELD:
        return ledger.rightsholder_account(claim.org_id)
    return f"escrow:claim:{claim.id}"


def _revenue_posting(session: Session, event_id: str, gen: Generation, amount: int, currency: str,
                     occurred_at: datetime) -> ledger.Posting:
    node = video_node(session, gen)
    target = _creator_target(monetising_claim(session, gen.id), occurred_at, node)
    if target is None:
        return ledger.revenue_posting(event_id, currency, amount, node, RULE)
    stand_in = ledger.VideoNode(node.video_id, _REDIRECTED, node.works, node.parent)
    posting = ledger.revenue_posting(event_id, currency, amount, stand_in, RULE)
    moved, merged = ledger.creator_account(_REDIRECTED), defaultdict(int)
    for line in posting.lines:  # the claimant may already be paid for a work: one line per account
        merged[target if line.account == moved else line.account] += line.amount
    return ledger.Posting(event_id, currency, tuple(ledger.Line(a, v) for a, v in sorted(merged.items()) if v))


# -- storing postings -------------------------------------------------------------------------------

def _period_change(session: Session, period: str) -> LedgerPeriodChange | None:
    return session.scalar(select(LedgerPeriodChange).where(LedgerPeriodChange.period == period)
                          .order_by(LedgerPeriodChange.id.desc()).limit(1))


def is_closed(session: Session, period: str) -> bool:
    change = _period_change(session, period)
    return change is not None and change.action == PeriodAction.CLOSE


def _booking_period(session: Session, own_period: str) -> tuple[str, str | None]:
    """(the period a posting is booked in, the closed period it adjusts or None)."""
    if not is_closed(session, own_period):
        return own_period, None
    current = period_of(utcnow())
    if is_closed(session, current):  # only possible for a month closed while running, before 0020
        raise Conflict(f"period {current} is closed", code="period_closed", details={"period": current})
    return current, own_period


def _store(session: Session, posting: ledger.Posting, *, kind: str, actor: User, occurred_at: datetime,
           generation_id: str | None = None, gross: int = 0, own_period: str | None = None) -> LedgerEntry:
    period, adjusts = _booking_period(session, own_period or period_of(occurred_at))
    entry = LedgerEntry(id=new_id(), event_id=posting.event_id, kind=kind, currency=posting.currency, period=period,
                        generation_id=generation_id, gross=gross, reverses=posting.reverses,
                        occurred_at=occurred_at, created_by_id=actor.id, created_at=utcnow(), adjusts_period=adjusts)
    lines = [LedgerLine(entry_id=entry.id, account=line.account, currency=posting.currency, amount=line.amount)
             for line in posting.lines]
    ledger_chain.link(session, entry, lines)  # its hash covers the entry and its lines
    session.add(entry)
    session.flush()
    session.add_all(lines)
    session.flush()
    audit.record(session, actor=actor.id, action=f"ledger.{kind}", object_type="ledger_entry", object_id=entry.id,
                 after={"event_id": posting.event_id, "currency": posting.currency, "period": period,
                        "adjusts_period": adjusts,
                        "lines": {line.account: line.amount for line in posting.lines}})
    return entry


def posting_of(session: Session, entry: LedgerEntry) -> ledger.Posting:
    lines = session.scalars(select(LedgerLine).where(LedgerLine.entry_id == entry.id).order_by(LedgerLine.id))
    return ledger.Posting(entry.event_id, entry.currency, tuple(ledger.Line(l.account, l.amount) for l in lines),
                          entry.reverses)


def check_event_bounds(occurred_at: datetime, video_created_at: datetime, currency: str,
                       now: datetime | None = None) -> None:
    """Refuse an event from before its video existed, from the future beyond the clock-skew
    tolerance, or in a currency that is not an active ISO 4217 one."""
    try:
        ledger.minor_units(currency)
    except ledger.LedgerError as exc:
        raise _as_error(exc) from exc
    tolerance = timedelta(seconds=setting("GL_LEDGER_FUTURE_TOLERANCE"))
    latest = (now or utcnow()) + tolerance
    if occurred_at > latest:
        raise ValidationFailed("occurred_at is in the future", code="occurred_in_future",
                               details={"latest": latest.isoformat()})
    if occurred_at < video_created_at:
        raise ValidationFailed("occurred_at is before the video existed", code="occurred_before_video",
                               details={"video_created_at": video_created_at.isoformat()})


def record_revenue(session: Session, actor: User, event_id: str, generation_id: str, amount: int, currency: str,
                   occurred_at: datetime) -> tuple[LedgerEntry, bool]:
    """Post a revenue event; (entry, created). The same event delivered again returns the stored
    entry; the same event id with other facts is a conflict."""
    occurred_at = as_utc(occurred_at)
    existing = session.scalar(select(LedgerEntry).where(LedgerEntry.event_id == event_id))
    if existing is not None:
        same = (existing.kind == "revenue" and existing.generation_id == generation_id and existing.gross == amount
                and existing.currency == currency and existing.occurred_at == occurred_at)
        if not same:
            raise Conflict("this event id was recorded with other facts", code="event_id_conflict",
                           details={"event_id": event_id})
        return existing, False
    gen = session.get(Generation, generation_id)
    if gen is None:
        raise NotFound("no such video", code="generation_not_found")
    if gen.status != Status.PUBLISHED:
        raise Conflict("revenue is recorded for published videos only", code="video_not_published",
                       details={"status": gen.status})
    check_event_bounds(occurred_at, as_utc(gen.created_at), currency)
    try:
        posting = _revenue_posting(session, event_id, gen, amount, currency, occurred_at)
    except ledger.LedgerError as exc:
        raise _as_error(exc) from exc
    return _store(session, posting, kind="revenue", actor=actor, occurred_at=occurred_at,
                  generation_id=gen.id, gross=amount), True


def reverse(session: Session, actor: User, event_id: str, reversal_event_id: str) -> LedgerEntry:
    """Cancel a posting with its exact negation, in the current (open) period."""
    original = session.scalar(select(LedgerEntry).where(LedgerEntry.event_id == event_id))
    if original is None:
        raise NotFound("no such ledger event", code="ledger_event_not_found")
    if session.scalar(select(LedgerEntry).where(LedgerEntry.reverses == event_id)) is not None:
        raise Conflict("that event is already reversed", code="already_reversed")
    if session.scalar(select(LedgerEntry).where(LedgerEntry.event_id == reversal_event_id)) is not None:
        raise Conflict("the reversal's event id is taken", code="event_id_conflict")
    posting = ledger.reversal(posting_of(session, original), reversal_event_id)
    # Booked now; when the original's month is closed the reversal is an adjustment of that month.
    original_period = original.adjusts_period or original.period
    own = original_period if is_closed(session, original_period) else None
    return _store(session, posting, kind="reversal", actor=actor, occurred_at=utcnow(),
                  generation_id=original.generation_id, gross=-original.gross, own_period=own)


def settle_claim(session: Session, actor: User, claim: VideoClaim) -> list[LedgerEntry]:
    """After a ruling, move what the claim's escrow holds to the claimant or back to the creator."""
    escrow = f"escrow:claim:{claim.id}"
    target = (ledger.rightsholder_account(claim.org_id) if claim.status == VideoClaimStatus.UPHELD
              else ledger.creator_account(session.get(Generation, claim.generation_id).owner_id))
    entries = []
    for currency, held in session.execute(select(LedgerLine.currency, func.sum(LedgerLine.amount))
                                          .where(LedgerLine.account == escrow).group_by(LedgerLine.currency)):
        if held:
            posting = ledger.Posting(f"claim-settlement:{claim.id}:{currency}", currency,
                                     (ledger.Line(escrow, -int(held)), ledger.Line(target, int(held))))
            entries.append(_store(session, posting, kind="settlement", actor=actor, occurred_at=utcnow(),
                                  generation_id=claim.generation_id))
    return entries


# -- reading ---------------------------------------------------------------------------------------

def balances(session: Session, currency: str, prefix: str | None = None) -> dict[str, int]:
    stmt = (select(LedgerLine.account, func.sum(LedgerLine.amount)).where(LedgerLine.currency == currency)
            .group_by(LedgerLine.account).order_by(LedgerLine.account))
    if prefix:
        stmt = stmt.where(LedgerLine.account.startswith(prefix))
    return {account: int(total) for account, total in session.execute(stmt)}


@dataclass
class StatementLine:
    event_id: str
    kind: str
    generation_id: str | None
    occurred_at: datetime
    currency: str
    amount: int
    adjusts_period: str | None = None  # a late event or correction of that closed month


@dataclass
class Statement:
    org_id: str
    period: str
    closed: bool
    lines: list[StatementLine]

    @property
    def totals(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for line in self.lines:
            out[line.currency] += line.amount
        return dict(sorted(out.items()))

    def to_csv(self) -> str:
        return statements_csv([self])


def statements_csv(statements: Iterable[Statement]) -> str:
    """One CSV for one or several months' statements (a row per line, its month in `period`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["period", "event_id", "kind", "generation_id", "occurred_at", "currency", "amount_minor",
                     "adjusts_period"])
    for found in statements:
        for line in found.lines:
            writer.writerow([found.period, line.event_id, line.kind, line.generation_id or "",
                             line.occurred_at.isoformat(), line.currency, line.amount, line.adjusts_period or ""])
    return buf.getvalue()


def statement(session: Session, org_id: str, period: str) -> Statement:
    account = ledger.rightsholder_account(org_id)
    rows = session.execute(select(LedgerEntry, LedgerLine).join(LedgerLine, LedgerLine.entry_id == LedgerEntry.id)
                           .where(LedgerLine.account == account, LedgerEntry.period == period)
                           .order_by(LedgerEntry.occurred_at, LedgerEntry.event_id))
    return Statement(org_id, period, is_closed(session, period),
                     [StatementLine(e.event_id, e.kind, e.generation_id, e.occurred_at, l.currency, l.amount,
                                    e.adjusts_period) for e, l in rows])


def statement_periods(session: Session, org_id: str) -> list[str]:
    """The months in which the organisation's account moved, oldest first."""
    return list(session.scalars(select(LedgerEntry.period).join(LedgerLine, LedgerLine.entry_id == LedgerEntry.id)
                                .where(LedgerLine.account == ledger.rightsholder_account(org_id))
                                .distinct().order_by(LedgerEntry.period)))


def org_balances(session: Session, org_id: str) -> dict[str, int]:
    """The organisation's balance per currency, in minor units."""
    rows = session.execute(select(LedgerLine.currency, func.sum(LedgerLine.amount))
                           .where(LedgerLine.account == ledger.rightsholder_account(org_id))
                           .group_by(LedgerLine.currency).order_by(LedgerLine.currency))
    return {currency: int(total) for currency, total in rows}


def _entries_in(session: Session, period: str) -> int:
    return session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.period == period))


def close_period(session: Session, admin: User, period: str) -> LedgerPeriodChange:
    """Close a month that has ended: its postings are final (later ones become adjustments)."""
    if is_closed(session, period):
        raise Conflict(f"period {period} is already closed", code="period_closed", details={"period": period})
    current = period_of(utcnow())
    if period > current:
        raise ValidationFailed("a period can be closed once it has ended", code="period_in_future",
                               details={"period": period, "current": current})
    if period == current:
        # Closing the running month would refuse every event of the rest of it.
        raise Conflict("the month is still running: it can be closed once it has ended", code="period_running",
                       details={"period": period})
    row = LedgerPeriodChange(period=period, action=PeriodAction.CLOSE.value, actor_id=admin.id)
    session.add(row)
    session.flush()
    audit.record(session, actor=admin.id, action="ledger.period_closed", object_type="ledger_period",
                 object_id=period, after={"entries": _entries_in(session, period)})
    return row


def reopen_period(session: Session, admin: User, period: str, reason: str) -> LedgerPeriodChange:
    """Reopen a closed month, with the admin's reason: events of that month land in it again."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationFailed("reopening a period needs a reason", code="reason_required")
    if not is_closed(session, period):
        raise Conflict(f"period {period} is not closed", code="period_not_closed", details={"period": period})
    row = LedgerPeriodChange(period=period, action=PeriodAction.REOPEN.value, reason=reason, actor_id=admin.id)
    session.add(row)
    session.flush()
    audit.record(session, actor=admin.id, action="ledger.period_reopened", object_type="ledger_period",
                 object_id=period, before={"closed": True}, after={"closed": False, "reason": reason,
                                                                  "entries": _entries_in(session, period)})
    return row


def period_changes(session: Session, period: str) -> list[LedgerPeriodChange]:
    return list(session.scalars(select(LedgerPeriodChange).where(LedgerPeriodChange.period == period)
                                .order_by(LedgerPeriodChange.id)))
