from alembic import command

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
