"""SQLAlchemy base, UTC-aware types and the Database (engine + transactions)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC (the API documents times in UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every backend (SQLite drops the offset, so it is restored on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is switched off so every transaction starts with
    # BEGIN IMMEDIATE: read-then-write transactions (audit chain, state CAS) then queue on the
    # write lock instead of failing with "database is locked" when they upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL's recommended level: durable across application crashes, fsync only at checkpoints.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# A pooled connection idle this long is pinged before use; one used more recently is not.
PING_AFTER_IDLE_S = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for connections that sat idle: pinging at every checkout was a
    round trip per request (a fifth of GET /generations/<id>'s time on PostgreSQL), while a
    connection used a moment ago is as good as a ping. A failed ping discards the connection and
    the pool hands out a fresh one, as pool_pre_ping does."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the driver's own error type for a dead connection
            raise DisconnectionError() from exc
        if not alive:
            raise DisconnectionError()


class Database:
    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def after_fork(self) -> None:
        # Pooled connections must not be shared with a forked child (RQ's forking worker).
        self.engine.dispose(close=False)

    def dispose(self) -> None:
        self.engine.dispose()


def on_commit(session: Session, callback) -> None:
    """Run `callback()` once the session's transaction commits (never if it rolls back).

    Side effects outside the database (deleting a file, enqueueing a job) must not happen for
    a change that is then rolled back."""
    callbacks = session.info.setdefault("on_commit", [])
    callbacks.append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for callback in session.info.pop("on_commit", []):
        callback()


def on_rollback(session: Session, callback) -> None:
    """Run `callback()` once the session's transaction has rolled back (never if it commits): to
    record, in a transaction of its own, what must outlive the caller's failure (a wrong guess).
    Run after the rollback, since SQLite takes no second writer while the first is open."""
    session.info.setdefault("on_rollback", []).append(callback)


@event.listens_for(Session, "after_commit")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop("on_rollback", None)


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop("on_commit", None)
    for callback in session.info.pop("on_rollback", []):
        callback()
