"""Property test on the database ledger: random works and policies, random remix trees, random
revenue events (with redeliveries and conflicting reuse of ids), on the real backend.

The reference is the pure split (copyright/ledger.py) over the tree the test itself drew, so the
database path (policy rows, generation_works, remix links, postings) is checked against it."""

from __future__ import annotations

import uuid
from dataclasses import astuple
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.errors import Conflict, ValidationFailed
from app.models import Generation, Role, Status, User
from copyright import ledger, revenue
from copyright.models import GenerationWork, LedgerEntry, LedgerLine, PolicyKind, RightsholderOrg, WorkPolicy

WHEN = datetime.now(timezone.utc) - timedelta(hours=1)


@st.composite
def worlds(draw):
    works = draw(st.lists(st.integers(0, 3000), min_size=0, max_size=4))  # each work's share in bp
    size = draw(st.integers(1, 6))
    videos = []
    for i in range(size):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        used = draw(st.lists(st.integers(0, len(works) - 1), unique=True, max_size=len(works))) if works else []
        videos.append((parent, draw(st.integers(0, 2)), sorted(used)))  # (parent, creator, works used)
    events = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, size - 1), st.integers(1, 10**9),
                                     st.sampled_from(["USD", "EUR"])), min_size=1, max_size=8))
    return works, videos, events


def build(s, run, works, videos, admin):
    creators = [User(email=f"c{i}-{run}@t.test", handle=f"c{i}{run}", password_hash="x") for i in range(3)]
    s.add_all(creators)
    s.flush()
    work_rows = []
    for j, share in enumerate(works):
        org = RightsholderOrg(name=f"org-{run}-{j}")
        s.add(org)
        s.flush()
        policy = WorkPolicy(work_id=f"w-{run}-{j}", version=1, org_id=org.id, kind=PolicyKind.ALLOW_WITH_REVENUE_SHARE,
                            share_bp=share, valid_from=WHEN - timedelta(days=1), created_by_id=admin.id)
        s.add(policy)
        s.flush()
        work_rows.append(policy)
    gens, nodes = [], []
    for parent, creator, used in videos:
        gen = Generation(owner_id=creators[creator].id, prompt="p", status=Status.PUBLISHED,
                         remix_of_id=gens[parent].id if parent is not None else None,
                         created_at=WHEN - timedelta(days=1))  # the events (at WHEN) come after it
        s.add(gen)
        s.flush()
        for j in used:
            s.add(GenerationWork(generation_id=gen.id, work_id=work_rows[j].work_id, policy_id=work_rows[j].id,
                                 org_id=work_rows[j].org_id, decision="allow", via="prompt"))
        uses = tuple(ledger.WorkUse(work_rows[j].work_id, work_rows[j].org_id, work_rows[j].share_bp)
                     for j in sorted(used, key=lambda j: work_rows[j].work_id))
        gens.append(gen)
        nodes.append(ledger.VideoNode(gen.id, creators[creator].id, uses,
                                      nodes[parent] if parent is not None else None))
    s.flush()
    return [g.id for g in gens], nodes


def stored_books(s, currency):
    return {a: int(v) for a, v in s.execute(select(LedgerLine.account, func.sum(LedgerLine.amount))
                                             .where(LedgerLine.currency == currency).group_by(LedgerLine.account))}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_random_policies_and_remix_trees_post_exactly_the_reference_split(rt, world):
    works, videos, events = world
    run = uuid.uuid4().hex[:8]
    with rt.db.transaction() as s:
        admin = s.scalar(select(User).where(User.role == Role.ADMIN))
        if admin is None:
            admin = User(email="admin@t.test", handle="admin", password_hash="x", role=Role.ADMIN)
            s.add(admin)
            s.flush()
        gen_ids, nodes = build(s, run, works, videos, admin)
        before = {c: stored_books(s, c) for c in ("USD", "EUR")}
        entries_before = s.scalar(select(func.count(LedgerEntry.id)))
    journal, seen = ledger.Journal(), {}
    for n, video, amount, currency in events:
        event_id, facts = f"{run}-{n}", (gen_ids[video], amount, currency)
        try:
            expected = ledger.revenue_posting(event_id, currency, amount, nodes[video], revenue.RULE)
        except ledger.LedgerError as exc:
            expected = exc
        try:
            with rt.db.transaction() as s:
                entry, created = revenue.record_revenue(s, s.get(User, admin.id), event_id, *facts, WHEN)
                posted = revenue.posting_of(s, entry)
        except Conflict as exc:
            assert exc.code == "event_id_conflict" and event_id in seen and seen[event_id] != facts
            continue
        except ValidationFailed as exc:  # shares along the chain over 100 %: refused, nothing written
            assert isinstance(expected, ledger.LedgerError) and exc.code == expected.code
            continue
        assert created == (event_id not in seen)
        if created:
            assert sorted(map(astuple, posted.lines)) == sorted(map(astuple, expected.lines))
            journal.post(posted)
        seen[event_id] = facts
    with rt.db.transaction() as s:
        for currency in ("USD", "EUR"):
            after = stored_books(s, currency)
            assert sum(after.values()) == 0
            moved = {a: after.get(a, 0) - before[currency].get(a, 0) for a in after}
            assert {a: v for a, v in moved.items() if v} == \
                {a: v for a, v in journal.balances(currency).items() if v}
            assert revenue.balances(s, currency) == {a: v for a, v in sorted(after.items())}
        assert s.scalar(select(func.count(LedgerEntry.id))) == entries_before + len(seen)
    # Replaying every accepted event changes nothing.
    for event_id, facts in seen.items():
        with rt.db.transaction() as s:
            _, created = revenue.record_revenue(s, s.get(User, admin.id), event_id, *facts, WHEN)
            assert not created
    with rt.db.transaction() as s:
        assert {c: stored_books(s, c) for c in ("USD", "EUR")} == \
            {c: {**before[c], **{a: before[c].get(a, 0) + v for a, v in journal.balances(c).items()}}
             for c in ("USD", "EUR")}
