"""Every table of every package on one MetaData: Alembic and the drift test read it from here."""

from __future__ import annotations

from sqlalchemy import MetaData


def metadata() -> MetaData:
    import app.models  # noqa: F401
    import copyright.models  # noqa: F401
    import likeness.models  # noqa: F401
    import safety.models  # noqa: F401
    from app.db import Base
    return Base.metadata
