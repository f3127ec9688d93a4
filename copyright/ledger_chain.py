"""The revenue ledger's keyed hash chain (app/chain.py): entries in `seq` order, each hash covering
the entry's facts and its lines, so an edited amount, a line added to or taken from an entry, or a
re-hashed entry fails `greenlight audit verify`, and checkpoints show a deleted tail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import chain
from copyright.models import LedgerEntry, LedgerLine


def content(entry: LedgerEntry, lines: Iterable[tuple[str, str, int]]) -> list[Any]:
    """What an entry's hash covers; `lines` are (account, currency, amount). Also written out in
    migration 0018, which hashed the entries that existed before the chain."""
    facts = [entry.event_id, entry.kind, entry.currency, entry.period, entry.generation_id, int(entry.gross),
             entry.reverses, chain.utc_iso(entry.occurred_at), entry.created_by_id, chain.utc_iso(entry.created_at),
             sorted([a, c, int(v)] for a, c, v in lines)]
    # Appended only when set, so entries hashed before late-event adjustments existed keep their hash.
    if entry.adjusts_period:
        facts.append(["adjusts_period", entry.adjusts_period])
    return facts


def _contents(session: Session, entries: Sequence[LedgerEntry]) -> list[list[Any]]:
    lines: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for line in session.scalars(select(LedgerLine).where(LedgerLine.entry_id.in_([e.id for e in entries]))):
        lines[line.entry_id].append((line.account, line.currency, line.amount))
    return [content(e, lines[e.id]) for e in entries]


def _next_seq(entry: LedgerEntry, last: int | None) -> None:
    entry.seq = (last or 0) + 1


CHAIN = chain.Chain(name="ledger", model=LedgerEntry, position=LedgerEntry.seq, contents=_contents,
                    lock=0x6C_6564_6765, assign_position=_next_seq, label=lambda e: e.event_id)


def link(session: Session, entry: LedgerEntry, lines: Iterable[LedgerLine]) -> None:
    """Seal a new entry (not yet added; its id and created_at set) with its lines onto the chain."""
    chain.link(session, CHAIN, entry, content(entry, [(l.account, l.currency, l.amount) for l in lines]))
