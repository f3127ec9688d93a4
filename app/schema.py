"""Every table of every package on one MetaData: Alembic and the drift test read it from here."""

from __future__ import annotations

from sqlalchemy import MetaData


def metadata() -> MetaData:
    import app.models  # noqa: F401
    from app.db import Base
    from app.factory import load_plugins

    load_plugins()  # each domain's plugin imports its tables
    return Base.metadata
