"""Text at the boundary: strings from outside (JSON bodies, path and query parameters, form fields,
upload file names) may not carry control characters or lone surrogates.

PostgreSQL refuses NUL in text and jsonb (a `DataError`, which was a 500), the C0/C1 controls are
never typed by people, and a lone surrogate cannot be encoded at all; they are refused here, once,
with 422 `invalid_characters` naming the field, on every backend. Tab, line feed and carriage
return are what people type in free text (prompts, notes, reasons, form text areas), so those
fields keep them. JSON bodies are checked by the schemas (app/api/schemas.py); everything else by
`check_request` (an app-wide hook) and `check_form` (the page groups' hook, after their upload caps).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.errors import ValidationFailed

# C0 and C1 controls, DEL and lone surrogates; the free-text variant spares \t \n \r.
_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidCharacters(ValidationFailed):
    code = "invalid_characters"


def bad_character(text: str, *, free_text: bool = False) -> int | None:
    """The position of the first character a field may not hold, or None."""
    found = (_BAD_IN_FREE_TEXT if free_text else _BAD).search(text)
    return found.start() if found else None


def is_surrogate(char: str) -> bool:
    return bool(_SURROGATE.fullmatch(char))


def describe(text: str, position: int) -> str:
    char = text[position]
    kind = "a lone surrogate" if is_surrogate(char) else "a control character"
    return f"{kind} (U+{ord(char):04X}) at position {position}"


def is_blank(text: str) -> bool:
    """Nothing a person can read: only spaces, controls and zero-width or other format characters."""
    return not "".join(c for c in text if c.isprintable()).strip()


def check_text(field: str, value: str, *, free_text: bool = False) -> str:
    """`value`, or InvalidCharacters naming `field`."""
    position = bad_character(value, free_text=free_text)
    if position is not None:
        raise InvalidCharacters(f"{field} contains {describe(value, position)}",
                                details={"field": field, "position": position,
                                         "character": f"U+{ord(value[position]):04X}"})
    return value


def find_bad(value: Any, *, free_text: bool = False, surrogates_only: bool = False,
             loc: tuple = ()) -> tuple[tuple, str, int] | None:
    """(location, text, position) of the first bad character in a JSON-like value (keys included)."""
    if isinstance(value, str):
        if surrogates_only:
            found = _SURROGATE.search(value)
            position = found.start() if found else None
        else:
            position = bad_character(value, free_text=free_text)
        return (loc, value, position) if position is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_bad(key, surrogates_only=surrogates_only, loc=loc) if isinstance(key, str) else None
            found = found or find_bad(item, free_text=free_text, surrogates_only=surrogates_only, loc=(*loc, key))
            if found:
                return found
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            if found := find_bad(item, free_text=free_text, surrogates_only=surrogates_only, loc=(*loc, index)):
                return found
    return None


def _check_pairs(where: str, pairs: Iterable[tuple[str, str]], *, free_text: bool) -> None:
    for name, value in pairs:
        check_text(f"{where} parameter name", name)
        check_text(f"{where}.{name}", value, free_text=free_text)


def check_request() -> None:
    """Path parameters (ids: no controls at all) and query parameters (values may carry typed text,
    such as a complaint's statement). Runs before every view, pages and API alike."""
    from flask import request

    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(name, value)
    _check_pairs("query", request.args.items(multi=True), free_text=True)


def check_form() -> None:
    """Form fields (typed text: tab and line breaks allowed), their names, and upload file names."""
    from flask import request

    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return
    _check_pairs("form", request.form.items(multi=True), free_text=True)
    for name, upload in request.files.items(multi=True):
        check_text("form parameter name", name)
        if upload.filename:
            check_text(f"form.{name} file name", upload.filename)
