"""Hash banks through the JSON API: trust & safety admins manage them, senior reviewers read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, jsonify
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app import uploads
from app.api.raw_body import save_raw_body
from app.api.schemas import FREE_TEXT, Body, Query
from app.api.spec import current_user, endpoint, session
from app.errors import ValidationFailed
from app.models import Role
from safety import hashbanks
from safety.models import BankAction, BankSignal, HashBank

bp = Blueprint("safety", __name__)

ADMIN = {Role.ADMIN.value}
READERS = {Role.ADMIN.value, Role.SENIOR_REVIEWER.value}
MAX_SIGNAL_FILE_BYTES = 20 * 1024 * 1024
SIGNAL_FILE_TYPES = {"text/plain": ".txt", "text/csv": ".csv"}
Distance = Annotated[int, Field(ge=0, le=63)]
PhashDistance = Annotated[int, Field(ge=0, le=16)]


def _current_category(value: str) -> str:
    from app import dsa

    if value not in dsa.categories():  # a retired (v1) or unknown category: the DSA database refuses it
        raise ValueError(f"{value} is not a category of the DSA transparency database's current schema")
    return value


Category = Annotated[str, StringConstraints(pattern=r"^STATEMENT_CATEGORY_[A-Z_]+$", max_length=64),
                     AfterValidator(_current_category)]


class BankIn(Body):
    name: Annotated[str, StringConstraints(min_length=2, max_length=80)]
    action: BankAction = BankAction.BLOCK
    negative: bool = False
    pdq_distance: Distance = 31
    phash_distance: PhashDistance = 8
    description: Annotated[str, StringConstraints(max_length=2000), FREE_TEXT] = ""
    category: Category | None = None


class BankPatch(Body):
    enabled: bool | None = None
    action: BankAction | None = None
    negative: bool | None = None
    pdq_distance: Distance | None = None
    phash_distance: PhashDistance | None = None
    description: Annotated[str, StringConstraints(max_length=2000), FREE_TEXT] | None = None
    category: Category | None = None


class BankOut(BaseModel):
    id: str
    name: str
    description: str
    action: str
    category: str
    enabled: bool
    negative: bool
    pdq_distance: int
    phash_distance: int
    signals: int
    created_at: datetime

    @classmethod
    def of(cls, bank: HashBank, signals: int) -> "BankOut":
        return cls(id=bank.id, name=bank.name, description=bank.description, action=bank.action,
                   category=bank.category, enabled=bank.enabled, negative=bank.negative,
                   pdq_distance=bank.pdq_distance, phash_distance=bank.phash_distance, signals=signals,
                   created_at=bank.created_at)


class BankList(BaseModel):
    items: list[BankOut]


class SignalIn(Body):
    signal_type: Literal["pdq", "phash"]
    signal: Annotated[str, StringConstraints(min_length=16, max_length=64)]
    tags: Annotated[str, StringConstraints(max_length=400)] = ""


class SignalOut(BaseModel):
    id: str
    signal_type: str
    signal: str
    source: str
    tags: str
    created_at: datetime

    @classmethod
    def of(cls, row: BankSignal) -> "SignalOut":
        return cls(id=row.id, signal_type=row.signal_type, signal=row.signal, source=row.source, tags=row.tags,
                   created_at=row.created_at)


class SignalList(BaseModel):
    items: list[SignalOut]
    next_after: str | None = Field(description="pass as `after` for the next page")


class SignalPage(Query):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    after: Annotated[str, StringConstraints(max_length=36)] | None = None


class FileQuery(Query):
    format: Literal["te-file", "te-csv"] = "te-file"
    signal_type: Literal["pdq", "phash"] | None = Field(
        default=None, description="te-file only: the type of every line when lines hold bare signals")


class ImportOut(BaseModel):
    added: int
    already_there: int


BANK_ERRORS = ("bank_not_found",)


@endpoint(bp, "/hash-banks", "POST", summary="Create a hash bank (admin)", tag="hash banks", body=BankIn,
          response=BankOut, status=201, roles=ADMIN,
          errors=("invalid_bank_name", "bank_exists", "bank_distance_out_of_range"))
def create_bank(body: BankIn):
    bank = hashbanks.create_bank(session(), current_user(), body.name, action=body.action, negative=body.negative,
                                 pdq_distance=body.pdq_distance, phash_distance=body.phash_distance,
                                 description=body.description, category=body.category)
    return BankOut.of(bank, 0)


@endpoint(bp, "/hash-banks", "GET", summary="Hash banks and their sizes", tag="hash banks", response=BankList,
          roles=READERS)
def list_banks():
    return BankList(items=[BankOut.of(bank, n) for bank, n in hashbanks.list_banks(session())])


@endpoint(bp, "/hash-banks/<bank_id>", "GET", summary="One hash bank", tag="hash banks", response=BankOut,
          roles=READERS, errors=BANK_ERRORS)
def get_bank(bank_id: str):
    return BankOut.of(*hashbanks.get_bank(session(), bank_id))


@endpoint(bp, "/hash-banks/<bank_id>", "PATCH", summary="Enable, disable or retune a hash bank (admin)",
          tag="hash banks", body=BankPatch, response=BankOut, roles=ADMIN,
          errors=(*BANK_ERRORS, "bank_distance_out_of_range"))
def update_bank(bank_id: str, body: BankPatch):
    hashbanks.update_bank(session(), current_user(), bank_id, **body.model_dump(exclude_unset=True))
    return BankOut.of(*hashbanks.get_bank(session(), bank_id))


@endpoint(bp, "/hash-banks/<bank_id>/signals", "POST", summary="Add a PDQ or pHash signal (admin); 200 when the "
          "bank already holds it", tag="hash banks", body=SignalIn, response=SignalOut, status=201, roles=ADMIN,
          errors=(*BANK_ERRORS, "invalid_signal"))
def add_signal(bank_id: str, body: SignalIn):
    row, created = hashbanks.add_signal(session(), current_user(), bank_id, body.signal_type, body.signal,
                                        tags=body.tags)
    resp = jsonify(SignalOut.of(row).model_dump(mode="json"))
    resp.status_code = 201 if created else 200
    return resp


@endpoint(bp, "/hash-banks/<bank_id>/media", "POST", summary="Bank an image by its hashes (raw body, "
          "image/jpeg|png|webp; the image is not kept) (admin)", tag="hash banks", response=SignalList, status=201,
          roles=ADMIN, raw_body=tuple(uploads.IMAGE_TYPES),
          errors=(*BANK_ERRORS, "not_an_image", "unsupported_media_type", "payload_too_large", "empty_upload"))
def add_media(bank_id: str):
    import cv2
    import numpy as np

    hashbanks.get_bank(session(), bank_id)  # bank_not_found before reading the upload
    path, ctype = save_raw_body(uploads.IMAGE_TYPES, uploads.max_image_bytes())
    try:
        uploads.inspect_image(path, ctype)
        image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    finally:
        path.unlink(missing_ok=True)
    rows = hashbanks.add_media(session(), current_user(), bank_id, image)
    return SignalList(items=[SignalOut.of(r) for r in rows], next_after=None)


@endpoint(bp, "/hash-banks/<bank_id>/signals", "GET", summary="A page of a bank's signals", tag="hash banks",
          query=SignalPage, response=SignalList, roles=READERS, errors=BANK_ERRORS)
def list_signals(bank_id: str, query: SignalPage):
    rows = hashbanks.list_signals(session(), bank_id, limit=query.limit, after=query.after)
    return SignalList(items=[SignalOut.of(r) for r in rows],
                      next_after=rows[-1].id if len(rows) == query.limit else None)


@endpoint(bp, "/hash-banks/<bank_id>/signals/<signal_id>", "DELETE", summary="Remove a signal (admin)",
          tag="hash banks", status=204, roles=ADMIN, errors=(*BANK_ERRORS, "signal_not_found"))
def remove_signal(bank_id: str, signal_id: str):
    hashbanks.remove_signal(session(), current_user(), bank_id, signal_id)
    return Response(status=204)


@endpoint(bp, "/hash-banks/<bank_id>/import", "POST", summary="Import a threatexchange signal file (raw body, "
          "text/plain for te-file, text/csv for te-csv); all lines or none (admin)", tag="hash banks",
          query=FileQuery, response=ImportOut, roles=ADMIN, raw_body=tuple(SIGNAL_FILE_TYPES),
          errors=(*BANK_ERRORS, "invalid_signal_file", "unsupported_media_type", "payload_too_large",
                  "empty_upload"))
def import_signals(bank_id: str, query: FileQuery):
    hashbanks.get_bank(session(), bank_id)
    path, _ = save_raw_body(SIGNAL_FILE_TYPES, MAX_SIGNAL_FILE_BYTES)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("a signal file is UTF-8 text", code="invalid_signal_file") from None
    finally:
        path.unlink(missing_ok=True)
    report = hashbanks.import_signals(session(), current_user(), bank_id, text, query.format,
                                      source="import:api", default_type=query.signal_type)
    return ImportOut(added=report.added, already_there=report.already_there)


@endpoint(bp, "/hash-banks/<bank_id>/export", "GET", summary="Export a bank as a threatexchange signal file",
          tag="hash banks", query=FileQuery, roles=READERS, errors=(*BANK_ERRORS, "invalid_signal_file"))
def export_signals(bank_id: str, query: FileQuery):
    text = hashbanks.export_signals(session(), bank_id, query.format)
    mimetype = "text/csv" if query.format == "te-csv" else "text/plain"
    return Response(text, mimetype=mimetype)
