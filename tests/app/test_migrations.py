import pytest
from alembic import command
from sqlalchemy.exc import DBAPIError

from app.migrate import alembic_config, drift, upgrade


def test_models_and_migrations_do_not_drift(config):
    assert drift(config.database_url) == []


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
    assert drift(url) == []


def test_review_items_become_cases(tmp_path):
    """0016 moves each held item onto a review case, with its creator as a party."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'items.db'}"
    upgrade(url, "0015")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, handle, password_hash, role, created_at) "
                          "VALUES ('u1', 'a@t.test', 'alice', 'x', 'creator', '2026-11-30 10:00:00')"))
        conn.execute(text("INSERT INTO generations (id, owner_id, prompt, cameo_ids, status, seed, age_restricted, "
                          "created_at, updated_at) VALUES ('g1', 'u1', 'a gun', '[]', 'in_review', 1, 0, "
                          "'2026-11-30 10:00:00', '2026-11-30 10:00:00')"))
        conn.execute(text("INSERT INTO review_items (id, generation_id, phase, queue, status, reasons, created_at) "
                          "VALUES ('r1', 'g1', 'pre_render', 'safety.prompt', 'open', "
                          "'[{\"stage\": \"safety.prompt\", \"code\": \"weapon\"}]', '2026-11-30 10:00:00')"))
    upgrade(url)
    with engine.connect() as conn:
        case = conn.execute(text("SELECT kind, state, queue, subject_id, phase, reasons, due_at FROM cases")).one()
        party = conn.execute(text("SELECT case_id, user_id, role FROM case_parties")).one()
    engine.dispose()
    assert case[:5] == ("review", "open", "safety", "g1", "pre_render") and "weapon" in case[5]
    assert str(case[6]).startswith("2026-12-01 10:00:00")
    assert tuple(party) == ("r1", "u1", "creator")
    assert drift(url) == []


def test_enrolment_reviews_become_cases(tmp_path):
    """0017 moves each enrolment review onto an `enrolment` case, the cameo's owner its one party."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'enrolment.db'}"
    upgrade(url, "0016")
    engine = create_engine(url)
    with engine.begin() as conn:
        for uid, handle in (("u1", "alice"), ("u2", "mallory"), ("r1", "carol")):
            conn.execute(text("INSERT INTO users (id, email, handle, password_hash, role, created_at) "
                              f"VALUES ('{uid}', '{handle}@t.test', '{handle}', 'x', 'creator', '2026-11-30 10:00:00')"))
        for cid, owner, status in (("c1", "u1", "active"), ("c2", "u2", "pending_review"), ("c3", "u2", "revoked")):
            conn.execute(text("INSERT INTO cameos (id, owner_id, display_name, permission, status, created_at) "
                              f"VALUES ('{cid}', '{owner}', 'Me', 'everyone', '{status}', '2026-11-30 10:00:00')"))
        conn.execute(text("INSERT INTO enrolment_reviews (id, cameo_id, matched_cameo_id, score, status, created_at) "
                          "VALUES ('e1', 'c2', 'c1', 0.93, 'open', '2026-11-30 10:00:00')"))
        conn.execute(text("INSERT INTO enrolment_reviews (id, cameo_id, matched_cameo_id, score, status, decision, "
                          "decided_by_id, decided_at, created_at) VALUES ('e2', 'c3', 'c1', 0.91, 'decided', 'block', "
                          "'r1', '2026-11-30 12:00:00', '2026-11-30 11:00:00')"))
    upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, kind, state, queue, subject_type, subject_id, decision, policy_code, "
                                 "decided_by_id, due_at, reasons, details FROM cases ORDER BY id")).all()
        parties = conn.execute(text("SELECT case_id, user_id, role FROM case_parties ORDER BY case_id")).all()
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    engine.dispose()
    assert [r[:9] for r in rows] == [
        ("e1", "enrolment", "open", "likeness", "cameo", "c2", None, None, None),
        ("e2", "enrolment", "decided", "likeness", "cameo", "c3", "block", "GL-LEGACY", "r1")]
    assert str(rows[0][9]).startswith("2026-12-01 10:00:00")
    assert "face_matches_other_cameo" in rows[0][10] and '"matched_cameo_id": "c1"' in rows[0][11]
    # Only the enrollee is a party: the matched cameo's owner (u1) is never told.
    assert [tuple(p) for p in parties] == [("e1", "u2", "enrollee"), ("e2", "u2", "enrollee")]
    assert "enrolment_reviews" not in tables and "enrolment_allowances" in tables
    assert drift(url) == []

def test_existing_ledger_entries_join_the_chain_unkeyed_and_a_checkpoint_anchors_them(tmp_path):
    """0018 chains the entries written before the chain existed, in the order they were written,
    with the unkeyed digest (the key is out of a migration's reach); the first keyed entry and the
    checkpoint `greenlight db upgrade` writes then anchor them. Audit rows keep their hashes."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from app import audit, chain
    from app.factory import load_plugins

    load_plugins()
    ledger_chain = next(c for c in audit.chains() if c.name == "ledger")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url, "0017")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, handle, password_hash, role, created_at) "
                          "VALUES ('u1', 'a@t.test', 'alice', 'x', 'admin', '2026-11-30 10:00:00')"))
        for i, at in enumerate(("2026-11-30 10:00:02", "2026-11-30 10:00:01")):
            conn.execute(text("INSERT INTO ledger_entries (id, event_id, kind, currency, period, gross, occurred_at, "
                              f"created_by_id, created_at) VALUES ('e{i}', 'ev{i}', 'revenue', 'EUR', '2026-11', 10, "
                              f"'2026-11-30 09:00:00', 'u1', '{at}')"))
            for account, amount in (("platform", 3), ("creator:u1", 7)):
                conn.execute(text("INSERT INTO ledger_lines (entry_id, account, currency, amount) "
                                  f"VALUES ('e{i}', '{account}', 'EUR', {amount})"))
    upgrade(url)
    assert drift(url) == []
    instance = tmp_path / "instance"
    key = chain.chain_key(instance)
    with Session(engine) as s:
        rows = s.execute(text("SELECT event_id, seq, key_id FROM ledger_entries ORDER BY seq")).all()
        assert [tuple(r) for r in rows] == [("ev1", 1, None), ("ev0", 2, None)]  # in the order written
        unanchored = chain.verify(s, ledger_chain, key, [])
        assert not unanchored.ok and "no checkpoint covers" in unanchored.problem
        point = chain.checkpoint(s, ledger_chain, instance)
        s.commit()
        assert chain.verify(s, ledger_chain, key, [point]).ok
    with engine.begin() as conn:  # the triggers still refuse edits after the migration's fill
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("UPDATE ledger_entries SET gross = 0"))
    engine.dispose()


def test_tokens_issued_before_expiry_existed_get_thirty_days(tmp_path):
    """0021 gives every existing token 30 days from the upgrade, so clients can move to a new one."""
    import hashlib
    from datetime import timedelta

    from sqlalchemy import create_engine, text

    from app import accounts
    from app.db import Database, utcnow
    from app.models import User

    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    upgrade(url, "0017")
    raw = "glt_" + "x" * 43
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, handle, password_hash, role, created_at) "
                          "VALUES ('u1', 'a@t.test', 'alice', 'x', 'creator', '2025-01-01 10:00:00')"))
        conn.execute(text("INSERT INTO api_tokens (id, user_id, token_hash, prefix, name, created_at) "
                          "VALUES ('t1', 'u1', :h, 'glt_xxxxxx', 'api', '2025-01-01 10:00:00')"),
                     {"h": hashlib.sha256(raw.encode()).hexdigest()})
    engine.dispose()
    upgraded_at = utcnow()
    upgrade(url)
    db = Database(url)
    with db.transaction() as s:
        assert accounts.user_for_token(s, raw).id == "u1"
        [token] = accounts.list_tokens(s, s.get(User, "u1"))
        assert timedelta(days=30) <= token.expires_at - upgraded_at < timedelta(days=30, minutes=5)
    db.dispose()
    assert drift(url) == []
