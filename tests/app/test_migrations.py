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
