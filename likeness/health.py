"""Can the stored faces be used? Two checks over the sealed templates and face crops:

* `startup_problems(rt)`, registered as the likeness start-up check: faces sealed under a key the
  keyring does not hold (for example a key file made in another instance folder) stop `serve`,
  `worker` and `up` with a message that says how to fix it. Cheap at any size: it reads the key
  ids in use and opens one row per key id and table.
* `census(session, ring)`, for `greenlight likeness check`: every row opened,
  templates counted per face model, the unreadable ones named.

Messages carry ids, key ids and counts: nothing of a face.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from likeness import crops, templates
from likeness.crypto import Keyring, KeyringError, Sealed
from likeness.models import FaceCrop


def _fix(instance_dir: Path) -> str:
    return (f"start with the key folder whose template_keys.json sealed them (GL_KEYS_DIR or GL_INSTANCE_DIR, "
            f"now {templates.key_file(instance_dir).parent}), or give those keys in GL_TEMPLATE_KEYS (kid:base64key,...; the first seals new ones)")


def _tables_present(session: Session) -> list:
    """The sealed tables this database has (none before its first migration)."""
    names = set(inspect(session.connection()).get_table_names())
    return [t for t in templates.SEALED_TABLES if t.__tablename__ in names]


def sealed_key_ids(session: Session, tables: list) -> dict[str, Counter]:
    """Key id -> rows sealed under it, per table."""
    found: dict[str, Counter] = {}
    for table in tables:
        for kid, n in session.execute(select(table.key_id, func.count()).group_by(table.key_id)):
            found.setdefault(kid, Counter())[table.__tablename__] = n
    return found


def _opens(ring: Keyring, row) -> bool:
    try:
        data = ring.open_bytes(Sealed.of(row), aad=row.aad)
        if isinstance(row, FaceCrop):
            crops.decode(data)
    except KeyringError:
        return False
    return True


def key_problems(session: Session, ring: Keyring | None, instance_dir: Path) -> list[str]:
    tables = _tables_present(session)
    found = sealed_key_ids(session, tables)
    if not found:
        return []
    described = "; ".join(f"{kid} ({', '.join(f'{n} {t}' for t, n in sorted(c.items()))})"
                          for kid, c in sorted(found.items()))
    if ring is None:
        return [f"stored faces are sealed under template keys {described}, but there is no keyring: "
                f"GL_TEMPLATE_KEYS is unset and {templates.key_file(instance_dir)} does not exist; "
                f"{_fix(instance_dir)}"]
    problems = []
    missing = sorted(set(found) - set(ring.keys))
    if missing:
        problems.append(f"stored faces are sealed under template keys the keyring does not hold: found {described}; "
                        f"{ring.source} holds {', '.join(sorted(ring.keys))}; missing {', '.join(missing)}; "
                        f"{_fix(instance_dir)}")
    for kid in sorted(set(found) & set(ring.keys)):
        for table in tables:
            row = session.scalars(select(table).where(table.key_id == kid).limit(1)).first()
            if row is not None and not _opens(ring, row):
                problems.append(f"template key {kid} of {ring.source} does not open the {table.__tablename__} "
                                f"sealed under {kid} (another key with the same id: a key file made in another "
                                f"instance folder?); {_fix(instance_dir)}")
                break
    return problems


def startup_problems(rt) -> list[str]:
    """The likeness start-up check (app.domains.StartupCheck): the face models can judge (an
    embedder other than SFace needs its calibrated threshold), and the stored faces open."""
    from likeness.faces import FaceModelError, load_face_models

    try:
        load_face_models().same_person_threshold
    except FaceModelError as exc:
        return [f"the face models cannot be used: {exc}"]
    instance_dir = rt.config.instance_dir
    try:
        ring = templates.existing_keyring(instance_dir)
    except KeyringError as exc:
        return [f"the template keyring cannot be read: {exc}"]
    with rt.db.transaction() as s:
        return key_problems(s, ring, instance_dir)


@dataclass
class Census:
    """Every sealed row, opened: templates per (kind, face model), crops per kind, what failed."""

    templates: Counter = field(default_factory=Counter)          # (table, model version) -> templates
    crops: Counter = field(default_factory=Counter)              # "cameo" / "figure" -> crops
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # (table, row key, key id)

    def not_under(self, model_version: str) -> int:
        return sum(n for (_, version), n in self.templates.items() if version != model_version)


def census(session: Session, ring: Keyring) -> Census:
    out = Census()
    for table in _tables_present(session):
        for batch in templates.batches(session, table):
            for row in batch:
                if table is FaceCrop:
                    out.crops["cameo" if row.cameo_id is not None else "figure"] += 1
                    key = f"{row.cameo_id or row.figure_id}#{row.position}"
                else:
                    out.templates[(table.__tablename__, row.model_version)] += 1
                    key = row.key
                if not _opens(ring, row):
                    out.unreadable.append((table.__tablename__, key, row.key_id))
            session.expunge_all()  # a census of a large gallery holds one batch at a time
    return out
