"""The JSON API: contract, authorization and bad input (always the error envelope, never a 500)."""

import io
import re
from datetime import date

import av
import pytest

from app import pipeline
from app.api.spec import OPERATIONS
from app.models import Role
from tests.conftest import PASSWORD, drain
from tests.likeness.enrolled import enrolled_cameo


def envelope(resp, status, code=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def alice(make_api):
    return make_api("alice@t.test", handle="alice")[0]


@pytest.fixture
def bob(make_api):
    return make_api("bob@t.test", handle="bob")[0]


def create(api, prompt, **extra):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, **extra})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


# -- contract ------------------------------------------------------------------------------------

def test_openapi_documents_every_operation(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for op in OPERATIONS:
        assert ("/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.path), op.method) in documented
    create_op = doc["paths"]["/api/v1/generations"]["post"]
    schema_name = create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][schema_name]
    assert set(schema["properties"]) == {"prompt", "cameo_ids", "remix_of", "input_image_id"}
    assert schema["required"] == ["prompt"]


def test_health(client):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok" and set(body["queued"]) == {"gate", "render", "scan"}


@pytest.mark.slow
def test_create_returns_verdicts_and_renders_a_playable_mp4(rt, alice):
    body = create(alice, "a green cube sliding down a ramp")
    assert body["status"] == "queued" and body["media_url"] is None
    assert [v["stage"] for v in body["verdicts"]] == list(pipeline.PRE_RENDER)
    assert all({"stage", "decision", "reasons"} <= set(v) for v in body["verdicts"])
    drain(rt)
    got = alice.get(f"/api/v1/generations/{body['id']}").get_json()
    assert got["status"] == "draft" and got["media_url"] == f"/api/v1/generations/{body['id']}/media"
    media = alice.get(got["media_url"])
    assert media.status_code == 200 and media.mimetype == "video/mp4"
    with av.open(io.BytesIO(media.data)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(video=0)) >= 8


def test_blocked_prompt_is_answered_at_once(alice):
    body = create(alice, "Angela Merkel reading a book")
    assert body["status"] == "blocked"
    blocking = [v for v in body["verdicts"] if v["decision"] == "block"]
    assert blocking[0]["reasons"][0]["code"] == "public_figure"


def _selects(rt, request) -> tuple[object, list[str]]:
    """The response to `request()` and the SELECTs it sent (each one a round trip on PostgreSQL)."""
    from sqlalchemy import event

    sent: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        return request(), sent
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)


def test_reading_a_generation_is_two_round_trips(rt, alice):
    """The token with its user, then the generation with its owner and verdicts: the verdicts come
    in the same statement as their generation, and the answer is the same as before."""
    body = create(alice, "a green cube sliding down a ramp")
    resp, sent = _selects(rt, lambda: alice.get(f"/api/v1/generations/{body['id']}"))
    assert resp.status_code == 200
    assert len(sent) == 2, sent
    assert resp.get_json() == body
    assert [v["stage"] for v in body["verdicts"]] == list(pipeline.PRE_RENDER)


# -- authorization ----------------------------------------------------------------------------------

def test_no_token_is_401(client):
    envelope(client.post("/api/v1/generations", json={"prompt": "a cat"}), 401, "unauthenticated")


def test_unknown_token_is_401(client):
    envelope(client.get("/api/v1/users/me", headers={"Authorization": "Bearer glt_nope"}), 401, "invalid_token")


@pytest.mark.slow
def test_another_users_generation_and_media_are_404(rt, alice, bob):
    gid = create(alice, "a red ball bouncing")["id"]
    drain(rt)
    for resp in (bob.get(f"/api/v1/generations/{gid}"), bob.get(f"/api/v1/generations/{gid}/media"),
                 bob.post(f"/api/v1/generations/{gid}/publish"), bob.delete(f"/api/v1/generations/{gid}")):
        envelope(resp, 404, "generation_not_found")
    envelope(bob.get("/api/v1/generations/does-not-exist"), 404, "generation_not_found")
    assert bob.get("/api/v1/generations").get_json()["items"] == []
    # Once published it is on the feed: others may watch it, not change it.
    assert alice.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    assert bob.get(f"/api/v1/generations/{gid}").status_code == 200
    assert bob.get(f"/api/v1/generations/{gid}/media").status_code == 200
    envelope(bob.delete(f"/api/v1/generations/{gid}"), 404)


def test_remix_of_a_generation_you_cannot_see_is_404(alice, bob):
    gid = create(alice, "a blue ring spinning")["id"]
    envelope(bob.post("/api/v1/generations", json={"prompt": "a remix", "remix_of": gid}), 404,
             "remix_parent_not_found")


def test_creator_cannot_use_the_review_queue(alice):
    envelope(alice.get("/api/v1/cases"), 403, "role_not_allowed")


# -- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, status, code", [
    ("{oops", 400, "invalid_json"),
    ("", 400, "invalid_json"),
    ('{"prompt": 42}', 422, "validation_error"),
    ('{"prompt": "a cat", "colour": "red"}', 422, "validation_error"),
    ('{"prompt": "a cat", "cameo_ids": "abc"}', 422, "validation_error"),
    ('{"prompt": "a cat", "cameo_ids": ["../etc"]}', 422, "validation_error"),
    ('{"prompt": ""}', 422, "validation_error"),
    ('{"prompt": "   "}', 422, "empty_prompt"),
    ('{"prompt": "' + "a" * 2001 + '"}', 422, "validation_error"),
    ('[1, 2]', 422, "validation_error"),
    ('{"prompt": null}', 422, "validation_error"),
])
def test_bad_generation_bodies(alice, data, status, code):
    resp = alice.post("/api/v1/generations", data=data, headers={"Content-Type": "application/json"})
    err = envelope(resp, status, code)
    if code == "validation_error":
        assert err["details"]["errors"]


def test_unknown_field_is_named(alice):
    err = envelope(alice.post("/api/v1/generations", json={"prompt": "x", "colour": "red"}), 422)
    assert err["details"]["errors"][0]["loc"] == ["colour"] and err["details"]["errors"][0]["type"] == "extra_forbidden"


def test_oversize_body_is_413_and_nothing_is_stored(alice, rt):
    big = '{"prompt": "' + "a" * (rt.config.max_request_bytes + 10) + '"}'
    envelope(alice.post("/api/v1/generations", data=big, headers={"Content-Type": "application/json"}), 413,
             "payload_too_large")
    assert alice.get("/api/v1/generations").get_json()["items"] == []


def test_wrong_content_type_is_415(alice):
    envelope(alice.post("/api/v1/generations", data="prompt=a cat",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type")


def test_unknown_route_and_wrong_method_use_the_envelope(alice):
    envelope(alice.get("/api/v1/nothing-here"), 404, "not_found")
    envelope(alice.client.put("/api/v1/generations"), 405, "method_not_allowed")


@pytest.mark.parametrize("query, code", [("limit=0", "validation_error"), ("limit=abc", "validation_error"),
                                         ("cursor=%21%21", "invalid_cursor"), ("status=nope", "unknown_status"),
                                         ("bogus=1", "validation_error")])
def test_bad_list_queries(alice, query, code):
    envelope(alice.get(f"/api/v1/generations?{query}"), 422, code)


def test_pagination_walks_every_item_once(alice):
    ids = {create(alice, f"Garfield number {i}")["id"] for i in range(5)}
    seen, cursor = [], None
    while True:
        page = alice.get("/api/v1/generations?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [g["id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and set(seen) == ids
    blocked = alice.get("/api/v1/generations?status=blocked&limit=100").get_json()["items"]
    assert len(blocked) == 5


# -- state changes through the API ----------------------------------------------------------------------

@pytest.mark.slow
def test_delete_removes_media_but_keeps_the_audit_trail(rt, alice):
    from app import audit
    gid = create(alice, "a pink diamond pulsing")["id"]
    drain(rt)
    path = rt.storage.path(f"generations/{gid}.mp4")
    assert path.is_file()
    assert alice.delete(f"/api/v1/generations/{gid}").status_code == 204
    assert not path.exists()
    envelope(alice.get(f"/api/v1/generations/{gid}"), 404)
    with rt.db.transaction() as s:
        actions = [e.after.get("status") for e in audit.history(s, "generation", gid) if e.after]
        assert actions[-1] == "deleted" and audit.verify(s).ok


def test_publishing_a_blocked_generation_is_a_conflict(alice):
    gid = create(alice, "Bugs Bunny eating a carrot")["id"]
    err = envelope(alice.post(f"/api/v1/generations/{gid}/publish"), 409, "illegal_transition")
    assert err["details"] == {"from": "blocked", "to": "published"}


def test_review_decision_through_the_api(rt, alice, make_api):
    reviewer, _ = make_api("rev@t.test", role=Role.REVIEWER)
    gid = create(alice, "a man holding a gun")["id"]
    items = reviewer.get("/api/v1/cases").get_json()["items"]
    assert [i["generation_id"] for i in items] == [gid]
    item_id = items[0]["id"]
    decided = reviewer.post(f"/api/v1/cases/{item_id}/decision",
                            json={"decision": "allow", "note": "prop", "policy_code": "GL-NO-VIOLATION"})
    assert decided.get_json()["state"] == "decided"
    assert alice.get(f"/api/v1/generations/{gid}").get_json()["status"] == "queued"
    envelope(reviewer.post(f"/api/v1/cases/{item_id}/decision",
                           json={"decision": "block", "policy_code": "GL-NO-VIOLATION"}), 409, "case_decided")
    envelope(reviewer.post("/api/v1/cases/nope/decision", json={"decision": "block"}), 404)
    envelope(reviewer.post(f"/api/v1/cases/{item_id}/decision", json={"decision": "maybe"}), 422)


# -- accounts -------------------------------------------------------------------------------------------------

def test_invite_sign_up_is_single_use_and_tokens_are_shown_once(rt, alice, client):
    invites = alice.get("/api/v1/invites").get_json()["items"]
    assert len(invites) == 4 and not any(i["used"] for i in invites)
    code = invites[0]["code"]
    body = {"invite_code": code, "email": "new@t.test", "password": PASSWORD, "birthdate": "2000-02-02"}
    created = client.post("/api/v1/signup", json=body)
    assert created.status_code == 201 and created.get_json()["is_teen"] is False
    envelope(client.post("/api/v1/signup", json=dict(body, email="other@t.test")), 422, "invalid_invite")
    envelope(client.post("/api/v1/signup", json=dict(body, invite_code="nope1234", email="x@t.test")), 422,
             "invalid_invite")
    assert alice.get("/api/v1/invites").get_json()["items"][0]["used"] is True

    token = client.post("/api/v1/tokens", json={"email": "new@t.test", "password": PASSWORD})
    assert token.status_code == 201
    raw = token.get_json()["token"]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {raw}"}).get_json()
    assert me["email"] == "new@t.test"
    with rt.db.transaction() as s:
        from app.models import ApiToken
        stored = [t.token_hash for t in s.query(ApiToken)]
    assert raw not in stored and all(len(h) == 64 for h in stored)
    envelope(client.post("/api/v1/tokens", json={"email": "new@t.test", "password": "wrong-password"}), 401,
             "invalid_credentials")
    envelope(client.post("/api/v1/tokens", json={"email": "ghost@t.test", "password": PASSWORD}), 401,
             "invalid_credentials")


def test_revoked_token_stops_working(client, make_api):
    api, _ = make_api("carol@t.test")
    token_id = client.post("/api/v1/tokens", json={"email": "carol@t.test", "password": PASSWORD}).get_json()
    other = {"Authorization": f"Bearer {token_id['token']}"}
    assert client.delete(f"/api/v1/tokens/{token_id['id']}", headers=other).status_code == 204
    envelope(client.get("/api/v1/users/me", headers=other), 401, "invalid_token")
    assert api.get("/api/v1/users/me").status_code == 200


def test_teen_flag_is_derived_from_birthdate(make_api):
    teen, _ = make_api("kid@t.test", birthdate=date(date.today().year - 16, 1, 1))
    adult, _ = make_api("grown@t.test", birthdate=date(1980, 1, 1))
    assert teen.get("/api/v1/users/me").get_json()["is_teen"] is True
    assert adult.get("/api/v1/users/me").get_json()["is_teen"] is False


def test_sign_up_with_bad_fields(client, alice):
    code = alice.get("/api/v1/invites").get_json()["items"][0]["code"]
    base = {"invite_code": code, "email": "n@t.test", "password": PASSWORD, "birthdate": "2000-01-01"}
    envelope(client.post("/api/v1/signup", json=dict(base, birthdate="yesterday")), 422, "validation_error")
    envelope(client.post("/api/v1/signup", json=dict(base, password="short")), 422, "weak_password")
    envelope(client.post("/api/v1/signup", json=dict(base, email="not-an-email")), 422, "invalid_email")
    envelope(client.post("/api/v1/signup", json=dict(base, birthdate="2999-01-01")), 422, "invalid_birthdate")
    # None of the failures used the invite up.
    assert alice.get("/api/v1/invites").get_json()["items"][0]["used"] is False


def _years_ago(years: int, days: int = 0):
    from datetime import date, timedelta

    today = date.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return (born + timedelta(days=days)).isoformat()


def test_sign_up_needs_the_minimum_age_and_a_refusal_stores_nothing(rt, client, alice, monkeypatch):
    from app.models import User

    code = alice.get("/api/v1/invites").get_json()["items"][0]["code"]
    base = {"invite_code": code, "password": PASSWORD}
    for n, birthdate in enumerate((_years_ago(7), _years_ago(13, days=1))):  # 7; a day short of 13
        err = envelope(client.post("/api/v1/signup", json=dict(base, email=f"kid{n}@t.test", birthdate=birthdate)),
                       422, "below_minimum_age")
        assert err["details"] == {"minimum_age": 13}
    with rt.db.transaction() as s:
        assert s.query(User).filter(User.email.like("kid%")).count() == 0
    assert alice.get("/api/v1/invites").get_json()["items"][0]["used"] is False
    # Configurable: at 16, a 15-year-old is refused; a 13th birthday today is enough by default.
    monkeypatch.setenv("GL_MIN_AGE", "16")
    envelope(client.post("/api/v1/signup", json=dict(base, email="teen@t.test", birthdate=_years_ago(15))), 422,
             "below_minimum_age")
    monkeypatch.delenv("GL_MIN_AGE")
    created = client.post("/api/v1/signup", json=dict(base, email="teen@t.test", birthdate=_years_ago(13)))
    assert created.status_code == 201 and created.get_json()["is_teen"] is True


# -- cameos and consent through the API -------------------------------------------------------------------------

def test_cameo_permissions_gate_requests(rt, alice, bob):
    cameo = {"id": enrolled_cameo(rt, alice, "Alice", "only_me")}
    req = {"prompt": "two friends dancing", "cameo_ids": [cameo["id"]]}
    blocked = bob.post("/api/v1/generations", json=req).get_json()
    assert blocked["status"] == "blocked"
    assert alice.patch(f"/api/v1/cameos/{cameo['id']}", json={"permission": "approved",
                                                              "approved_handles": ["bob"]}).status_code == 200
    assert bob.post("/api/v1/generations", json=req).get_json()["status"] == "queued"
    assert alice.post(f"/api/v1/cameos/{cameo['id']}/revoke").get_json()["status"] == "revoked"
    assert bob.post("/api/v1/generations", json=req).get_json()["status"] == "blocked"
    envelope(bob.get(f"/api/v1/cameos/{cameo['id']}"), 404, "cameo_not_found")
    envelope(bob.patch(f"/api/v1/cameos/{cameo['id']}", json={"permission": "everyone"}), 404, "cameo_not_found")
    envelope(alice.post("/api/v1/cameos", json={"display_name": "x", "permission": "friends"}), 422)


def test_mutuals_through_follows(rt, alice, bob):
    cameo = {"id": enrolled_cameo(rt, alice, "Alice", "mutuals")}
    req = {"prompt": "a walk", "cameo_ids": [cameo["id"]]}
    assert bob.post("/api/v1/follows", json={"handle": "alice"}).status_code == 204
    assert bob.post("/api/v1/generations", json=req).get_json()["status"] == "blocked"
    assert alice.post("/api/v1/follows", json={"handle": "@bob"}).status_code == 204
    assert bob.post("/api/v1/generations", json=req).get_json()["status"] == "queued"
    envelope(bob.post("/api/v1/follows", json={"handle": "nobody_at_all"}), 404, "user_not_found")
    envelope(bob.post("/api/v1/follows", json={"handle": "bob"}), 422, "cannot_follow_self")
