"""Keyed, anchored hash chains: the audit log and the revenue ledger.

Each row's hash is an HMAC-SHA256, under a key kept outside the database (`app.keys`), of its
content and the previous row's hash. Whoever holds only the database login can neither forge a
row nor re-hash edited ones: without the key no hash comes out right. What the key cannot show is
rows missing from the end (a truncated table, a deleted tail): for that `checkpoint()` writes the
chain's head (count and last hash), signed with Ed25519, into a folder outside the database
(GL_CHECKPOINT_DIR); `verify()` checks the rows against every checkpoint there.

Rows written before the key existed (key_id NULL) keep their unkeyed SHA-256 hashes and are not
rewritten: the first keyed row's HMAC covers the last of them, and `greenlight db upgrade` writes a
checkpoint right after migrating, so they are anchored too. An unkeyed row after a keyed one, or
one that no checkpoint covers, fails verification.

A domain declares its chain (`Chain`) in its plugin (`Domain.chains`); the core's audit chain is
`app.audit.CHAIN`, and `app.audit.chains()` lists them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from app import keys
from app.config import setting

GENESIS = "0" * 64
CHAIN_KEY_FILE = "chain_hmac.key"
CHECKPOINT_KEY_FILE = "checkpoint_ed25519.key"


@dataclass(frozen=True)
class Chain:
    name: str
    model: type  # a mapped class with prev_hash, hash and key_id columns
    position: Any  # the column that orders the chain (an autoincrement id, a sequence number)
    # The values each row's hash covers besides prev_hash, for a batch of rows (one query for a
    # batch, not one per row, when they live in other tables too).
    contents: Callable[[Session, Sequence[Any]], list[list[Any]]]
    lock: int  # a PostgreSQL advisory lock key: serialises appends (and checkpoints) across sessions
    # Sets the row's position when it is not an autoincrement id: (row, previous position or None).
    assign_position: Callable[[Any, Any], None] | None = None
    label: Callable[[Any], Any] = field(default=lambda row: row.id)  # names a row in reports


def canonical(prev_hash: str, content: Sequence[Any]) -> bytes:
    return json.dumps([prev_hash, *content], sort_keys=True, separators=(",", ":"), default=str).encode()


def utc_iso(moment: datetime) -> str:
    """A time as the hashes cover it: UTC, whatever offset the object carries."""
    return moment.astimezone(timezone.utc).isoformat()


def unkeyed_digest(prev_hash: str, content: Sequence[Any]) -> str:
    """The digest rows carried before the chain was keyed (migrations 0001 to 0017)."""
    return hashlib.sha256(canonical(prev_hash, content)).hexdigest()


# -- the keys ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainKey:
    secret: bytes

    @property
    def id(self) -> str:  # names the key without revealing it
        return "hmac-" + hashlib.sha256(b"greenlight chain key\0" + self.secret).hexdigest()[:12]

    def digest(self, prev_hash: str, content: Sequence[Any]) -> str:
        return hmac.new(self.secret, canonical(prev_hash, content), hashlib.sha256).hexdigest()


def chain_key(instance_dir: Path, create: bool = True) -> ChainKey | None:
    secret = keys.secret(CHAIN_KEY_FILE, instance_dir, env_var="GL_CHAIN_KEY", create=create)
    return ChainKey(secret) if secret is not None else None


def _instance_dir() -> Path:
    from app import runtime
    return runtime.current().config.instance_dir


@lru_cache(maxsize=8)
def _cached_key(instance_dir: Path, keys_dir: Path, env_key: str, stamp: int) -> ChainKey:
    return chain_key(instance_dir)


def current_key() -> ChainKey:
    """The chain key of this process's instance, read once per key file (created on first use)."""
    instance = _instance_dir()
    path = keys.keys_dir(instance) / CHAIN_KEY_FILE
    return _cached_key(instance, path.parent, setting("GL_CHAIN_KEY") or "",
                       path.stat().st_mtime_ns if path.exists() else 0)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def id(self) -> str:
        return "ed25519-" + hashlib.sha256(self.public_bytes).hexdigest()[:16]


def signing_key(instance_dir: Path, create: bool = True) -> SigningKey | None:
    seed = keys.secret(CHECKPOINT_KEY_FILE, instance_dir, env_var="GL_CHECKPOINT_KEY", create=create)
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed)) if seed is not None else None


# -- appending ---------------------------------------------------------------------------------------

def _lock(session: Session, chain: Chain) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": chain.lock})


def link(session: Session, chain: Chain, row: Any, content: Sequence[Any], key: ChainKey | None = None) -> None:
    """Give `row` (not yet added) its place, prev_hash, key id and hash at the chain's end, in the
    caller's transaction. `content` is what `chain.contents` will read back for it.

    The first append of a transaction takes the chain's lock and reads its end; later appends in
    the same transaction continue from the row appended before (the lock is still held, so nobody
    else appended meanwhile): a generation's gate appends three audit rows, and the lock and the
    query were a fifth of its database work."""
    session.flush()
    session.connection()  # begins the transaction, so it can be told apart from the next one
    transaction = session.get_nested_transaction() or session.get_transaction()
    heads = session.info.setdefault("chain_heads", {})
    held = heads.get(chain.name)
    # Only a row that reached the database continues the chain (one linked but never added does not).
    if held is not None and held[0] is transaction and transaction.is_active and inspect(held[1]).persistent:
        _, previous_row, key = held
        position, prev = getattr(previous_row, chain.position.key), previous_row.hash
        key = key if key is not None else current_key()
    else:
        _lock(session, chain)
        last = session.execute(select(chain.position, chain.model.hash).order_by(chain.position.desc()).limit(1)).first()
        position, prev = (last[0], last[1]) if last is not None else (None, GENESIS)
        key = key or current_key()
    if chain.assign_position is not None:
        chain.assign_position(row, position)
    row.prev_hash, row.key_id, row.hash = prev, key.id, key.digest(prev, content)
    heads[chain.name] = (transaction, row, key)


# -- checkpoints -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    chain: str
    count: int
    head: str
    at: str
    chain_key_id: str | None
    key_id: str
    signature: str = ""
    path: Path | None = None

    def signed_part(self) -> bytes:
        return json.dumps({"chain": self.chain, "count": self.count, "head": self.head, "at": self.at,
                           "chain_key_id": self.chain_key_id, "key_id": self.key_id},
                          sort_keys=True, separators=(",", ":")).encode()

    def describe(self) -> str:
        return f"checkpoint {self.path.name if self.path else '?'} ({self.count} events at {self.at})"


def checkpoint_dir(instance_dir: Path) -> Path:
    return (setting("GL_CHECKPOINT_DIR") or Path(instance_dir) / "checkpoints").resolve()


def head(session: Session, chain: Chain) -> tuple[int, str]:
    """(rows, last hash) read together: appends wait on the same lock."""
    _lock(session, chain)
    count = session.scalar(select(func.count()).select_from(chain.model)) or 0
    last = session.scalar(select(chain.model.hash).order_by(chain.position.desc()).limit(1))
    return count, last or GENESIS


def checkpoint(session: Session, chain: Chain, instance_dir: Path, *, only_if_moved: bool = False,
               now: datetime | None = None) -> Checkpoint | None:
    """Sign the chain's head into `<checkpoints>/<chain>/`; None when `only_if_moved` and the
    newest checkpoint already records this head."""
    count, last = head(session, chain)
    folder = checkpoint_dir(instance_dir) / chain.name
    if only_if_moved:
        newest = _newest(folder)
        if newest is not None and (newest.get("count"), newest.get("head")) == (count, last):
            return None
    signer = signing_key(instance_dir)
    key = chain_key(instance_dir, create=False)
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    point = Checkpoint(chain.name, count, last, moment.isoformat(), key.id if key else None, signer.id)
    signature = base64.b64encode(signer.private.sign(point.signed_part())).decode()
    body = json.loads(point.signed_part()) | {"signature": signature}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{moment:%Y%m%dT%H%M%S%fZ}-{count}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    os.replace(tmp, path)
    return Checkpoint(**{**point.__dict__, "signature": signature, "path": path})


def _newest(folder: Path) -> dict | None:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in reversed(files):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


class CheckpointError(ValueError):
    pass


def load_checkpoints(chain: Chain, instance_dir: Path, signer: SigningKey | None) -> list[Checkpoint]:
    """Every checkpoint of `chain`, each signature verified; raises CheckpointError on the first that
    does not verify (altered, forged, or signed by another key than this installation's)."""
    folder = checkpoint_dir(instance_dir) / chain.name
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            body = json.loads(path.read_text())
            point = Checkpoint(body["chain"], int(body["count"]), str(body["head"]), str(body["at"]),
                               body.get("chain_key_id"), str(body["key_id"]), str(body["signature"]), path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {path} cannot be read: {exc}") from None
        if signer is None:
            raise CheckpointError(f"checkpoint {path} cannot be verified: no checkpoint key "
                                  f"(GL_CHECKPOINT_KEY unset and no {CHECKPOINT_KEY_FILE} in the key folder)")
        if point.key_id != signer.id:
            raise CheckpointError(f"checkpoint {path} is signed by key {point.key_id}, not by this installation's "
                                  f"checkpoint key {signer.id}")
        try:
            signer.private.public_key().verify(base64.b64decode(point.signature), point.signed_part())
        except (InvalidSignature, ValueError):
            raise CheckpointError(f"checkpoint {path}: its signature does not verify (the file was altered "
                                  f"or forged)") from None
        if point.chain != chain.name:
            raise CheckpointError(f"checkpoint {path} is of chain {point.chain!r}, not {chain.name!r}")
        found.append(point)
    return found


# -- verifying ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: Any = None
    problem: str | None = None
    chain: str = ""
    anchored_at: int | None = None  # the newest checkpoint's count the rows were checked against


def _rows(session: Session, chain: Chain, batch: int = 500) -> Iterable[tuple[Any, list[Any]]]:
    after = None
    while True:
        stmt = select(chain.model).order_by(chain.position).limit(batch)
        if after is not None:
            stmt = stmt.where(chain.position > after)
        rows = list(session.scalars(stmt))
        if not rows:
            return
        yield from zip(rows, chain.contents(session, rows))
        after = getattr(rows[-1], chain.position.key)


def verify(session: Session, chain: Chain, key: ChainKey | None,
           checkpoints: Sequence[Checkpoint] | None = None) -> ChainReport:
    """Every row against its HMAC and its predecessor; with `checkpoints`, the chain against each
    (a checkpoint's count-th row must carry its head, and no checkpoint may count more rows than the
    table holds). Without checkpoints a truncated table or a deleted tail cannot be seen."""
    points = list(checkpoints or ())
    heads: dict[int, list[Checkpoint]] = {}
    for point in points:
        heads.setdefault(point.count, []).append(point)
    anchored = max((p.count for p in points), default=None)
    prev, checked, keyed_seen = GENESIS, 0, False

    def broken(row, problem):
        return ChainReport(False, checked, chain.label(row), problem, chain.name, anchored)

    for row, content in _rows(session, chain):
        if row.prev_hash != prev:
            return broken(row, "prev_hash does not match the previous row (a row was deleted, inserted or "
                               "re-ordered)")
        if row.key_id is None:
            if keyed_seen:
                return broken(row, "an unkeyed row after keyed ones (rows re-hashed without the chain key)")
            if anchored is None or checked + 1 > anchored:
                return broken(row, "an unkeyed row that no checkpoint covers (rows re-hashed without the chain "
                                   "key, or a chain never checkpointed since it was keyed)")
            expected = unkeyed_digest(prev, content)
        else:
            keyed_seen = True
            if key is None or row.key_id != key.id:
                return broken(row, f"the row is keyed with {row.key_id}, and this installation's chain key is "
                                   f"{key.id if key else 'missing'} (GL_CHAIN_KEY or the key folder)")
            expected = key.digest(prev, content)
        if not hmac.compare_digest(expected, row.hash):
            return broken(row, "row content does not match its hash (edited, or re-hashed without the chain key)")
        prev = row.hash
        checked += 1
        for point in heads.get(checked, ()):
            if point.head != row.hash:
                return broken(row, f"the chain differs from {point.describe()}: rows up to it were rewritten")
    for point in points:
        if point.count > checked:
            what = "the table is empty" if checked == 0 else f"the chain ends after {checked} events"
            return ChainReport(False, checked, None, f"{what}, but {point.describe()} recorded {point.count}: "
                               f"events were deleted from the end or the table was truncated", chain.name, anchored)
        if point.count == 0 and point.head != GENESIS:
            return ChainReport(False, checked, None, f"{point.describe()} records no events but a head hash",
                               chain.name, anchored)
    return ChainReport(True, checked, chain=chain.name, anchored_at=anchored)
