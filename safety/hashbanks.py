"""Hash banks: PDQ and pHash signals of known media, matched against input images and rendered frames.

Formats are those of python-threatexchange (which hasher-matcher-actioner builds on): the local
signal file (`<signal_type> <signal>` per line, or bare signals of one type) and the dataset CSV
(`signal_type,signal_str,collab,category,tags`). PDQ signals are validated by threatexchange's
PdqSignal. The index keeps PDQ hashes in a FAISS binary index (32 bytes per hash: 10M hashes in
320 MB, where a float index would need 10 GB) and pHashes as uint64, searched exactly.

A negative bank (known-good media) suppresses every match of the image it matches. Hash banks
catch re-encodes and resizes, not edits: a crop of a few percent moves PDQ past its match distance
(tests/app/test_perceptual.py), and a mirror image is a different hash.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import faiss
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from threatexchange.signal_type.pdq.signal import PdqSignal

from app import audit
from app.kit.cache import RebuiltOnChange
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import User
from app.kit.perceptual import PDQ_BITS, Fingerprint, fingerprint, from_hex, to_hex
from safety.models import BankAction, BankSignal, HashBank, SignalType

_BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,79}$")
_PHASH = re.compile(r"^[0-9a-f]{16}$")
FORMATS = ("te-file", "te-csv")
CSV_FIELDS = ("signal_type", "signal_str", "collab", "category", "tags")
MAX_PDQ_DISTANCE, MAX_PHASH_DISTANCE = 63, 16


# -- banks ------------------------------------------------------------------------------------------

def _bank(session: Session, bank_id: str) -> HashBank:
    bank = session.get(HashBank, bank_id)
    if bank is None:
        raise NotFound("no such hash bank", code="bank_not_found")
    return bank


def _check_distances(pdq_distance: int, phash_distance: int) -> None:
    if not 0 <= pdq_distance <= MAX_PDQ_DISTANCE or not 0 <= phash_distance <= MAX_PHASH_DISTANCE:
        raise ValidationFailed(f"match distances go up to {MAX_PDQ_DISTANCE} (PDQ) and {MAX_PHASH_DISTANCE} (pHash):"
                               " beyond that unrelated images match", code="bank_distance_out_of_range")


def create_bank(session: Session, actor: User, name: str, *, action: BankAction = BankAction.BLOCK,
                negative: bool = False, pdq_distance: int = 31, phash_distance: int = 8, description: str = "",
                category: str | None = None) -> HashBank:
    if not _BANK_NAME.match(name):
        raise ValidationFailed("a bank name is 2-80 lower-case letters, digits, '-' or '_'", code="invalid_bank_name")
    if session.scalar(select(HashBank.id).where(HashBank.name == name)) is not None:
        raise Conflict("a bank with this name exists", code="bank_exists", details={"name": name})
    _check_distances(pdq_distance, phash_distance)
    bank = HashBank(name=name, action=BankAction(action).value, negative=negative, pdq_distance=pdq_distance,
                    phash_distance=phash_distance, description=description, created_by_id=actor.id)
    if category:
        bank.category = category
    session.add(bank)
    session.flush()
    audit.record(session, actor=actor.id, action="hash_bank.created", object_type="hash_bank", object_id=bank.id,
                 after=bank_facts(bank))
    return bank


def bank_facts(bank: HashBank) -> dict:
    return {"name": bank.name, "action": bank.action, "negative": bank.negative, "enabled": bank.enabled,
            "pdq_distance": bank.pdq_distance, "phash_distance": bank.phash_distance, "category": bank.category}


def update_bank(session: Session, actor: User, bank_id: str, **changes) -> HashBank:
    bank = _bank(session, bank_id)
    before = bank_facts(bank)
    allowed = {"enabled", "action", "pdq_distance", "phash_distance", "description", "negative", "category"}
    for key, value in changes.items():
        if key not in allowed:
            raise ValueError(key)
        if value is not None:
            setattr(bank, key, BankAction(value).value if key == "action" else value)
    _check_distances(bank.pdq_distance, bank.phash_distance)
    bank.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=actor.id, action="hash_bank.updated", object_type="hash_bank", object_id=bank.id,
                 before=before, after=bank_facts(bank))
    return bank


def list_banks(session: Session) -> list[tuple[HashBank, int]]:
    counts = {bank_id: n for bank_id, n in session.execute(
        select(BankSignal.bank_id, func.count(BankSignal.id)).group_by(BankSignal.bank_id))}
    return [(bank, counts.get(bank.id, 0)) for bank in session.scalars(select(HashBank).order_by(HashBank.name))]


def get_bank(session: Session, bank_id: str) -> tuple[HashBank, int]:
    bank = _bank(session, bank_id)
    return bank, session.scalar(select(func.count(BankSignal.id)).where(BankSignal.bank_id == bank.id)) or 0


# -- signals ----------------------------------------------------------------------------------------

def normalise_signal(signal_type: str, signal: str) -> tuple[str, str]:
    """(type, canonical hex) or ValidationFailed(invalid_signal)."""
    kind, value = signal_type.strip().lower(), signal.strip().lower()
    try:
        if kind == SignalType.PDQ:
            return kind, PdqSignal.validate_signal_str(value)
        if kind == SignalType.PHASH and _PHASH.match(value):
            return kind, value
    except ValueError:
        pass
    raise ValidationFailed(f"not a {kind or 'known'} signal: {signal[:80]!r}", code="invalid_signal",
                           details={"signal_type": kind, "known_types": [t.value for t in SignalType]})


def _add(session: Session, actor: User, bank: HashBank, kind: str, value: str, source: str,
         tags: str) -> tuple[BankSignal, bool]:
    existing = session.scalar(select(BankSignal).where(BankSignal.bank_id == bank.id, BankSignal.signal_type == kind,
                                                       BankSignal.signal == value))
    if existing is not None:
        return existing, False
    row = BankSignal(bank_id=bank.id, signal_type=kind, signal=value, source=source[:200], tags=tags[:400],
                     added_by_id=actor.id)
    session.add(row)
    return row, True


def add_signal(session: Session, actor: User, bank_id: str, signal_type: str, signal: str, *, source: str = "api",
               tags: str = "") -> tuple[BankSignal, bool]:
    """(signal, created); adding a signal the bank holds changes nothing."""
    bank = _bank(session, bank_id)
    kind, value = normalise_signal(signal_type, signal)
    row, created = _add(session, actor, bank, kind, value, source, tags)
    session.flush()
    if created:
        audit.record(session, actor=actor.id, action="hash_bank.signal_added", object_type="hash_bank",
                     object_id=bank.id, after={"signal_type": kind, "signal": value, "source": row.source})
    return row, created


def add_media(session: Session, actor: User, bank_id: str, image_bgr: np.ndarray, *,
              source: str = "upload") -> list[BankSignal]:
    """Bank an image by its hashes (the image itself is not kept): PDQ when the image has enough
    detail for PDQ to be reliable, and pHash always."""
    hashes = fingerprint(image_bgr)
    signals = [(SignalType.PHASH.value, to_hex(hashes.phash))]
    if hashes.pdq_usable:
        signals.insert(0, (SignalType.PDQ.value, to_hex(hashes.pdq, PDQ_BITS)))
    return [add_signal(session, actor, bank_id, kind, signal, source=source)[0] for kind, signal in signals]


def remove_signal(session: Session, actor: User, bank_id: str, signal_id: str) -> None:
    bank = _bank(session, bank_id)
    row = session.get(BankSignal, signal_id)
    if row is None or row.bank_id != bank.id:
        raise NotFound("no such signal in this bank", code="signal_not_found")
    session.delete(row)
    session.flush()
    audit.record(session, actor=actor.id, action="hash_bank.signal_removed", object_type="hash_bank",
                 object_id=bank.id, before={"signal_type": row.signal_type, "signal": row.signal})


def list_signals(session: Session, bank_id: str, *, limit: int = 100, after: str | None = None) -> list[BankSignal]:
    bank = _bank(session, bank_id)
    stmt = select(BankSignal).where(BankSignal.bank_id == bank.id).order_by(BankSignal.id).limit(limit)
    if after:
        stmt = stmt.where(BankSignal.id > after)
    return list(session.scalars(stmt))


# -- import / export --------------------------------------------------------------------------------

@dataclass
class ImportReport:
    added: int
    already_there: int


def parse_signal_file(text: str, fmt: str, default_type: str | None = None) -> list[tuple[str, str, str]]:
    """(type, signal, tags) rows; every bad line is reported at once (nothing is imported then)."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {FORMATS}", code="invalid_signal_file")
    rows, problems = [], []
    if fmt == "te-file":
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, signal = line.partition(" ") if default_type is None else (default_type, "", line)
            rows.append((number, kind, signal, ""))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"signal_type", "signal_str"} <= set(reader.fieldnames):
            raise ValidationFailed("a CSV needs the columns signal_type and signal_str (threatexchange's dataset "
                                   "--csv)", code="invalid_signal_file")
        for number, record in enumerate(reader, 2):
            rows.append((number, record.get("signal_type") or "", record.get("signal_str") or "",
                         record.get("tags") or ""))
    parsed = []
    for number, kind, signal, tags in rows:
        try:
            parsed.append((*normalise_signal(kind, signal), tags))
        except ValidationFailed as exc:
            problems.append({"line": number, "error": exc.message})
    if problems:
        raise ValidationFailed(f"{len(problems)} lines are not signals; nothing was imported",
                               code="invalid_signal_file", details={"lines": problems[:100]})
    return parsed


def import_signals(session: Session, actor: User, bank_id: str, text: str, fmt: str, *, source: str,
                   default_type: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ImportReport:
    bank = _bank(session, bank_id)
    parsed = parse_signal_file(text, fmt, default_type)
    held = {(kind, value) for kind, value in session.execute(
        select(BankSignal.signal_type, BankSignal.signal).where(BankSignal.bank_id == bank.id))}
    added = 0
    for i, (kind, value, tags) in enumerate(parsed, 1):
        if (kind, value) not in held:
            session.add(BankSignal(bank_id=bank.id, signal_type=kind, signal=value, source=source[:200],
                                   tags=tags[:400], added_by_id=actor.id))
            held.add((kind, value))
            added += 1
        if progress and (i % 1000 == 0 or i == len(parsed)):
            progress(i, len(parsed))
    session.flush()
    audit.record(session, actor=actor.id, action="hash_bank.imported", object_type="hash_bank", object_id=bank.id,
                 after={"format": fmt, "source": source, "added": added, "lines": len(parsed)})
    return ImportReport(added=added, already_there=len(parsed) - added)


def export_signals(session: Session, bank_id: str, fmt: str) -> str:
    bank = _bank(session, bank_id)
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {FORMATS}", code="invalid_signal_file")
    rows = session.execute(select(BankSignal.signal_type, BankSignal.signal, BankSignal.tags)
                           .where(BankSignal.bank_id == bank.id).order_by(BankSignal.signal_type, BankSignal.signal))
    if fmt == "te-file":
        return "".join(f"{kind} {value}\n" for kind, value, _ in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    category = "NEGATIVE_CLASS" if bank.negative else "POSITIVE_CLASS"
    for kind, value, tags in rows:
        writer.writerow({"signal_type": kind, "signal_str": value, "collab": bank.name, "category": category,
                         "tags": tags})
    return out.getvalue()


# -- matching ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BankHit:
    bank_id: str
    bank_name: str
    action: str
    category: str
    negative: bool
    signal_id: str
    signal_type: str
    distance: int


@dataclass
class _BankRow:
    id: str
    name: str
    action: str
    category: str
    negative: bool
    pdq_distance: int
    phash_distance: int


class BankIndex:
    """Every enabled bank's signals, searched exactly: FAISS binary (Hamming) for PDQ, numpy for pHash."""

    def __init__(self, banks: Iterable[_BankRow], signals: Iterable[tuple[str, str, str, str]]):
        self.banks = {b.id: b for b in banks}
        pdq_rows, phash_rows = [], []
        for signal_id, bank_id, kind, value in signals:
            if bank_id in self.banks:
                (pdq_rows if kind == SignalType.PDQ else phash_rows).append((signal_id, bank_id, value))
        self.pdq_meta = [(sid, bid) for sid, bid, _ in pdq_rows]
        self.pdq = faiss.IndexBinaryFlat(PDQ_BITS)
        if pdq_rows:
            self.pdq.add(np.frombuffer(b"".join(bytes.fromhex(v) for _, _, v in pdq_rows), np.uint8)
                         .reshape(len(pdq_rows), PDQ_BITS // 8))
        self.phash_meta = [(sid, bid) for sid, bid, _ in phash_rows]
        self.phash = np.array([from_hex(v) for _, _, v in phash_rows], np.uint64)
        self.pdq_radius = max((b.pdq_distance for b in self.banks.values()), default=0)

    def __len__(self) -> int:
        return self.pdq.ntotal + len(self.phash)

    def _hit(self, signal_id: str, bank_id: str, kind: str, distance: int) -> BankHit | None:
        bank = self.banks[bank_id]
        limit = bank.pdq_distance if kind == SignalType.PDQ else bank.phash_distance
        if distance > limit:
            return None
        return BankHit(bank.id, bank.name, bank.action, bank.category, bank.negative, signal_id, kind, distance)

    def match(self, hashes: Fingerprint) -> list[BankHit]:
        """An image's hits (closest per bank), or none when a negative bank recognises it."""
        hits: list[BankHit] = []
        if self.pdq.ntotal and hashes.pdq_usable:
            lims, distances, ids = self.pdq.range_search(hashes.pdq_bytes().reshape(1, -1), self.pdq_radius + 1)
            for distance, i in zip(distances[lims[0]:lims[1]], ids[lims[0]:lims[1]]):
                hit = self._hit(*self.pdq_meta[i], SignalType.PDQ.value, int(distance))
                hits += [hit] if hit else []
        if len(self.phash):
            bits = np.bitwise_count(self.phash ^ np.uint64(hashes.phash))
            for i in np.flatnonzero(bits <= MAX_PHASH_DISTANCE):
                hit = self._hit(*self.phash_meta[i], SignalType.PHASH.value, int(bits[i]))
                hits += [hit] if hit else []
        if any(h.negative for h in hits):
            return []
        best: dict[str, BankHit] = {}
        for hit in sorted(hits, key=lambda h: (h.signal_type != SignalType.PDQ, h.distance)):
            best.setdefault(hit.bank_id, hit)
        return list(best.values())


def _stamp(session: Session) -> tuple:
    return (*session.execute(select(func.count(BankSignal.id), func.max(BankSignal.created_at))).one(),
            *session.execute(select(func.count(HashBank.id), func.max(HashBank.updated_at))).one())


def _build(session: Session) -> BankIndex:
    banks = [_BankRow(b.id, b.name, b.action, b.category, b.negative, b.pdq_distance, b.phash_distance)
             for b in session.scalars(select(HashBank).where(HashBank.enabled.is_(True)))]
    signals = session.execute(select(BankSignal.id, BankSignal.bank_id, BankSignal.signal_type, BankSignal.signal))
    return BankIndex(banks, signals)


_index: RebuiltOnChange[BankIndex] = RebuiltOnChange(_stamp, _build)


def bank_index(session: Session) -> BankIndex:
    """The process's index, rebuilt when a bank or signal changes (removals change the count)."""
    return _index.get(session)
