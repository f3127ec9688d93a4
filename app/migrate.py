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
from sqlalchemy import create_engine, text  # noqa: E402

import migrations  # noqa: E402
from app.schema import metadata  # noqa: E402


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head", app_role: str | None = None) -> None:
    """Migrate with `database_url` (the login that owns the tables); on PostgreSQL, then grant
    `app_role` what the app needs (`grant_app_role`)."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)
    if app_role and database_url.startswith("postgresql"):
        grant_app_role(database_url, app_role)


def grant_app_role(owner_url: str, role: str) -> None:
    """The app's role does not own the tables, so it can neither alter nor truncate them (nor drop
    their triggers). It may read and write ordinary tables, only read and append to the append-only
    ones (tables whose model says info={"append_only": True}: the audit log, the ledger), and only
    read the migration stamp. Re-run at every upgrade, so new tables are covered."""
    append_only = {t.name for t in metadata().sorted_tables if t.info.get("append_only")}
    known = {t.name for t in metadata().sorted_tables}
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            if conn.scalar(text("SELECT current_user")) == role:
                return  # one login owns and uses the tables: nothing to grant
            quote = conn.dialect.identifier_preparer.quote
            who, schema = quote(role), quote(conn.scalar(text("SELECT current_schema()")))
            tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).all()
            conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {who}"))
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}"))
            for table in tables:
                privileges = ("SELECT, INSERT" if table in append_only else
                              "SELECT, INSERT, UPDATE, DELETE" if table in known else "SELECT")
                conn.execute(text(f"GRANT {privileges} ON {quote(table)} TO {who}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"))
    finally:
        engine.dispose()


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
