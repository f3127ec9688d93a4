"""Alembic, driven from code: `greenlight db upgrade` and the drift check."""

from __future__ import annotations

import logging
from pathlib import Path

logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # else a line per plugin, at import

from alembic import command  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.config import Config as AlembicConfig  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

import migrations  # noqa: E402
from app.schema import metadata  # noqa: E402


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def drift(database_url: str) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, metadata())
    finally:
        engine.dispose()


def behind_head(database_url: str) -> str | None:
    """None when the database is at the migrations' head, else what it is at (a start-up check)."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(database_url)
    quiet = logging.getLogger("alembic.runtime.migration")
    level, quiet.level = quiet.level, logging.WARNING  # which dialect it picked: noise at every start
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        quiet.level = level
        engine.dispose()
    return None if current == head else (current or "none (an empty database)")
