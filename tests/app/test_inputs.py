"""Bad text at the boundary (issue 13, point 6): NUL and the other control characters, lone
surrogates and invisible prompts get a 422 with a stable code on every backend, never a 500
(PostgreSQL refuses NUL in text: psycopg.DataError)."""

import base64
import io
import json
import re

import pytest

from app import inputs
from app.api.schemas import Body, GenerationIn
from app.models import Role
from tests.app.test_api import envelope
from tests.conftest import PASSWORD, create_user


@pytest.fixture
def alice(make_api):
    return make_api("alice@t.test", handle="alice")[0]


def post_raw(api, path, raw: bytes):
    return api.post(path, data=raw, headers={"Content-Type": "application/json"})


# -- the pure checks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, free_text, position", [
    ("plain text", False, None),
    ("a\x00b", False, 1),
    ("a\x00b", True, 1),
    ("tab\there", False, 3),
    ("tab\there\nand\r\nlines", True, None),
    ("del\x7f", True, 3),
    ("c1\x85", True, 2),          # NEL, a C1 control
    ("nbsp\xa0ok", False, None),  # U+00A0 is printable text, not a control
    ("lone\ud800", True, 4),
    ("emoji 🐢 ok", False, None),
])
def test_bad_character(text, free_text, position):
    assert inputs.bad_character(text, free_text=free_text) == position


def test_find_bad_names_the_location_in_nested_values():
    assert inputs.find_bad({"a": ["ok", "x\x01"]}) == (("a", 1), "x\x01", 1)
    assert inputs.find_bad({"k\x00": 1}) == ((), "k\x00", 1)
    assert inputs.find_bad({"a": "x\x01", "b": "\ud800"}, surrogates_only=True) == (("b",), "\ud800", 0)


# -- JSON bodies ------------------------------------------------------------------------------------------

def test_every_request_body_is_a_checked_body(app):
    """The character check lives in `Body`: a body model that is not one would go unchecked."""
    from app.api.spec import OPERATIONS

    unchecked = [f"{op.method} {op.path}" for op in OPERATIONS if op.body and not issubclass(op.body, Body)]
    assert OPERATIONS and not unchecked

@pytest.mark.parametrize("prompt, position", [("a cat\x00", 5), ("\x00", 0), ("a\x1bcat", 1), ("a cat\x85", 5),
                                              ("a cat\x7f", 5)])
def test_control_characters_in_a_prompt_are_refused(alice, prompt, position):
    err = envelope(alice.post("/api/v1/generations", json={"prompt": prompt}), 422, "invalid_characters")
    assert err["details"]["field"] == "prompt" and err["details"]["position"] == position
    assert alice.get("/api/v1/generations").get_json()["items"] == []


def test_tabs_and_line_breaks_in_a_prompt_are_what_people_type():
    # The schema, not the endpoint: a generation would load the prompt classifier for nothing.
    assert GenerationIn.model_validate_json('{"prompt": "a cat\\n\\ton a\\r\\nboat"}').prompt == "a cat\n\ton a\r\nboat"


@pytest.mark.parametrize("prompt", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2060 \n\t"])
def test_a_prompt_of_zero_width_characters_is_empty(alice, prompt):
    envelope(alice.post("/api/v1/generations", json={"prompt": prompt}), 422, "empty_prompt")


@pytest.mark.parametrize("raw, position", [
    (b'{"prompt": "a cat \\ud800"}', 6),          # a lone surrogate, as JSON escapes it
    (b'{"prompt": "\\udfff then text"}', 0),
    (b'{"prompt": "a cat \xff\xfe"}', 6),          # bytes that are not UTF-8
])
def test_a_prompt_that_is_not_utf8_is_prompt_not_utf8(alice, raw, position):
    err = envelope(post_raw(alice, "/api/v1/generations", raw), 422, "prompt_not_utf8")
    assert err["details"] == {"field": "prompt", "position": position}


def test_a_lone_surrogate_elsewhere_is_invalid_characters_and_broken_json_stays_invalid_json(client):
    err = envelope(client.post("/api/v1/tokens", data=b'{"email": "a\\ud800@t.test", "password": "x"}',
                               headers={"Content-Type": "application/json"}), 422, "invalid_characters")
    assert err["details"]["field"] == "email"
    envelope(client.post("/api/v1/tokens", data=b'{"email": "\\ud800', headers={"Content-Type": "application/json"}),
             400, "invalid_json")


def test_nul_in_unauthenticated_bodies(client, rt):
    create_user(rt, "alice@t.test", handle="alice")
    err = envelope(client.post("/api/v1/tokens", json={"email": "alice@t.test\x00", "password": PASSWORD}),
                   422, "invalid_characters")
    assert err["details"]["field"] == "email"
    envelope(client.post("/api/v1/tokens", json={"email": "alice@t.test", "password": "pw\x00"}), 422,
             "invalid_characters")
    envelope(client.post("/api/v1/tokens", json={"email": "alice@t.test\n", "password": PASSWORD}), 422,
             "invalid_characters")  # one-line fields keep no line breaks either
    err = envelope(client.post("/api/v1/signup", json={"invite_code": "ab\x00cd", "email": "new@t.test",
                                                       "password": PASSWORD, "birthdate": "1990-01-01"}),
                   422, "invalid_characters")
    assert err["details"]["field"] == "invite_code"
    envelope(client.post("/api/v1/email-verifications", json={"email": "x\x00@t.test"}), 422, "invalid_characters")


def test_nul_in_domain_bodies(make_api):
    alice = make_api("alice@t.test", handle="alice")[0]
    err = envelope(alice.post("/api/v1/cameos", json={"display_name": "Sea\x00Turtle"}), 422, "invalid_characters")
    assert err["details"]["field"] == "display_name"
    err = envelope(alice.post("/api/v1/follows", json={"handle": "bob\x00"}), 422, "invalid_characters")
    assert err["details"]["field"] == "handle"
    err = envelope(alice.post("/api/v1/appeals", json={"generation_id": "g1", "reason": "line one\nline \x00two"}),
                   422, "invalid_characters")
    assert err["details"]["field"] == "reason"
    admin = make_api("root@t.test", role=Role.ADMIN, handle="root")[0]
    err = envelope(admin.post("/api/v1/hash-banks", json={"name": "bank\x00"}), 422, "invalid_characters")
    assert err["details"]["field"] == "name"
    err = envelope(admin.post("/api/v1/rightsholders/orgs", json={"name": "Acme\x00"}), 422, "invalid_characters")
    assert err["details"]["field"] == "name"


# -- path and query parameters -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/v1/generations/%00", "/api/v1/generations/abc%00def/media", "/api/v1/cases/%00",
    "/api/v1/generations/%C2%85", "/api/v1/cameos/%01",
])
def test_path_ids_with_control_characters(alice, path):
    err = envelope(alice.get(path), 422, "invalid_characters")
    assert err["details"]["position"] >= 0


def test_path_ids_with_control_characters_unauthenticated(client):
    envelope(client.get("/api/v1/complaints/%00?key=" + "k" * 16), 422, "invalid_characters")
    envelope(client.delete("/api/v1/tokens/%00"), 422, "invalid_characters")


def test_query_parameters_with_control_characters(alice):
    err = envelope(alice.get("/api/v1/generations?status=%00"), 422, "invalid_characters")
    assert err["details"]["field"] == "query.status"
    envelope(alice.get("/api/v1/generations?cur%00sor=x"), 422, "invalid_characters")


def test_a_cursor_hiding_a_nul_is_not_one_we_issued(alice):
    forged = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", "id\x00"]).encode()).decode()
    envelope(alice.get(f"/api/v1/generations?cursor={forged}"), 422, "invalid_cursor")


# -- the pages: forms, paths and multipart uploads --------------------------------------------------------

def _token(client, path="/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _page_refusal(response):
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    assert "control character" in response.get_data(as_text=True)


def test_login_form_with_nul(rt, client):
    create_user(rt, "alice@t.test", handle="alice")
    _page_refusal(client.post("/login", data={"email": "alice@t.test\x00", "password": PASSWORD,
                                              "csrf_token": _token(client)}))
    _page_refusal(client.get("/login?next=/me%00"))


def test_likeness_complaint_upload_with_a_nul_in_its_file_name(rt, client):
    data = {"csrf_token": _token(client, "/complaints/likeness"), "generation_id": "g1", "email": "x@t.test",
            "code": "123456", "statement": "it is me", "selfie": (io.BytesIO(b"not an image"), "me\x00.png")}
    _page_refusal(client.post("/complaints/likeness", data=data, content_type="multipart/form-data"))


def test_reviewer_and_party_forms_with_control_characters(rt, app):
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    create_user(rt, "carol@t.test", handle="carol")
    client = app.test_client()
    client.post("/login", data={"email": "rev@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    csrf = _token(client, "/review")
    _page_refusal(client.post("/review/cases/nope/notes", data={"body": "a note\x00", "csrf_token": csrf}))
    _page_refusal(client.post("/review/cases/%00/claim", data={"csrf_token": csrf}))
    _page_refusal(client.get("/review/cases/%00"))
    # A note with line breaks is typed text: it reaches the view (which finds no such case).
    assert client.post("/review/cases/nope/notes",
                       data={"body": "line one\r\nline two", "csrf_token": csrf}).status_code == 404

    party = app.test_client()
    party.post("/login", data={"email": "carol@t.test", "password": PASSWORD, "csrf_token": _token(party)})
    csrf = _token(party, "/me/cases")
    _page_refusal(party.post("/appeals", data={"statement_id": "\x00", "reason": "why", "csrf_token": csrf}))
    _page_refusal(party.get("/appeals/new?statement_id=%00"))


def test_a_csrf_token_with_non_ascii_characters_is_refused_not_a_500(rt, client):
    _token(client)
    assert client.post("/login", data={"email": "a@t.test", "password": "x", "csrf_token": "jeton-\xe9t\xe9"}
                       ).status_code == 403
    assert client.post("/logout", headers={"X-CSRF-Token": "\xe9"}).status_code == 403
