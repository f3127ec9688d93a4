"""Abuse limits on signing in: throttling per email and per address, audited failures, bounded
password hashing, and API tokens that expire and that their owner can list and revoke."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import accounts, login_throttle
from app.db import utcnow
from app.errors import TooManyRequests
from app.models import ApiToken, AuditEvent, LoginThrottle, User
from tests.conftest import PASSWORD, Api, create_user

TOKENS = "/api/v1/tokens"


def _login(client, email, password, address="198.51.100.7"):
    return client.post(TOKENS, json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _failed_logins(rt) -> list[AuditEvent]:
    with rt.db.transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed").order_by(AuditEvent.id)))


# -- throttling ----------------------------------------------------------------------------------------


def test_wrong_passwords_for_one_account_are_refused_for_a_while_with_retry_after(rt, client, caplog):
    alice = create_user(rt, "alice@t.test")
    caplog.set_level(logging.WARNING, logger="app.accounts")
    for _ in range(5):
        answer = _login(client, "alice@t.test", "wrong-password-1")
        assert answer.status_code == 401 and answer.json["error"]["code"] == "invalid_credentials"
    # Refused now, even with the right password (else the refusal would confirm a guess).
    refused = _login(client, "alice@t.test", PASSWORD)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_login_attempts"
    assert refused.headers["Retry-After"] == "60" and refused.json["error"]["details"] == {"retry_after_s": 60}

    failed = _failed_logins(rt)
    assert len(failed) == 5 and {e.object_id for e in failed} == {alice.id}
    assert failed[0].after == {"via": "api", "address": "198.51.100.7", "account_exists": True}
    assert failed[-1].after["refused_for_s"] == {"account": 60}
    assert not any(PASSWORD in str(e.after) or "wrong-password-1" in str(e.after) for e in failed)
    lines = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    assert len(lines) == 5 and "198.51.100.7" in lines[0] and "wrong-password" not in " ".join(lines)


def test_an_unknown_email_is_throttled_exactly_like_a_known_one(rt, client):
    create_user(rt, "alice@t.test")
    known = [_login(client, "alice@t.test", "wrong-password-1") for _ in range(6)]
    unknown = [_login(client, "nobody@t.test", "wrong-password-1", address="198.51.100.8") for _ in range(6)]
    assert [a.status_code for a in known] == [a.status_code for a in unknown] == [401] * 5 + [429]
    assert known[0].json == unknown[0].json and known[-1].json == unknown[-1].json
    assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"]
    audited = _failed_logins(rt)[5:]
    assert {e.object_id for e in audited} == {"unknown"} and audited[0].after["account_exists"] is False
    with rt.db.transaction() as s:  # the made-up email is not kept in clear
        assert not any("nobody" in k for k in s.scalars(select(LoginThrottle.key)))


def test_a_successful_login_resets_the_accounts_count(rt, client):
    create_user(rt, "alice@t.test")
    for _ in range(4):
        assert _login(client, "alice@t.test", "wrong-password-1").status_code == 401
    assert _login(client, "alice@t.test", PASSWORD).status_code == 201
    for _ in range(4):
        assert _login(client, "alice@t.test", "wrong-password-1").status_code == 401
    assert _login(client, "alice@t.test", PASSWORD).status_code == 201


def test_one_address_trying_many_accounts_is_refused_and_other_addresses_are_not(rt, client, monkeypatch):
    monkeypatch.setenv("GL_LOGIN_ADDRESS_FAILURES", "3")
    create_user(rt, "alice@t.test")
    for n in range(3):
        assert _login(client, f"guess{n}@t.test", "wrong-password-1", address="203.0.113.9").status_code == 401
    refused = _login(client, "alice@t.test", PASSWORD, address="203.0.113.9")
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_login_attempts"
    assert _login(client, "alice@t.test", PASSWORD, address="203.0.113.10").status_code == 201
    # Alice's success did not wipe the attacker's address count.
    assert _login(client, "alice@t.test", PASSWORD, address="203.0.113.9").status_code == 429


@pytest.mark.parametrize("hops", [0, 1])
def test_the_address_is_the_connections_unless_proxies_are_trusted(rt, monkeypatch, hops):
    from app.factory import create_app
    monkeypatch.setenv("GL_LOGIN_ADDRESS_FAILURES", "2")
    monkeypatch.setenv("GL_PROXY_HOPS", str(hops))
    client = create_app().test_client()
    for n in range(2):  # through one proxy, each attempt claiming another client address
        client.post(TOKENS, json={"email": f"guess{n}@t.test", "password": "wrong-password-1"},
                    environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": f"192.0.2.{n}"})
    third = client.post(TOKENS, json={"email": "guess9@t.test", "password": "wrong-password-1"},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": "192.0.2.9"})
    # Untrusted, the header is ignored (a caller cannot dodge the count with it); trusted, it names the client.
    assert third.status_code == (429 if hops == 0 else 401)
    assert [e.after["address"] for e in _failed_logins(rt)][:2] == \
        (["10.0.0.1"] * 2 if hops == 0 else ["192.0.2.0", "192.0.2.1"])


def test_refusals_grow_but_are_capped_and_end(rt):
    """An attacker can delay a victim's login, never lock it for good: 1, 2, 4, 8 minutes, then 15 at most."""
    email, now, refusals = "victim@t.test", utcnow(), []
    for _ in range(6):
        with rt.db.transaction() as s:
            for _ in range(5):
                refused = login_throttle.record_failure(s, email, None, now)
            refusals.append(refused["account"])
        with rt.db.transaction() as s:
            with pytest.raises(TooManyRequests) as raised:
                login_throttle.check(s, email, None, now + timedelta(seconds=refused["account"] - 1))
            assert raised.value.code == "too_many_login_attempts"
            login_throttle.check(s, email, None, now + timedelta(seconds=refused["account"]))  # over: allowed
        now += timedelta(seconds=refused["account"])
    assert refusals == [60, 120, 240, 480, 900, 900]


def test_failures_outside_the_window_do_not_add_up(rt):
    email, now = "alice@t.test", utcnow()
    with rt.db.transaction() as s:
        for minute in range(8):  # one wrong password every 4 minutes: never 5 within 15
            assert login_throttle.record_failure(s, email, None, now + timedelta(minutes=4 * minute)) == {}


# -- the web login -----------------------------------------------------------------------------------------


def _page_token(client) -> str:
    import re
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_login_page_is_throttled_and_audited_alike_and_says_why(rt, client):
    create_user(rt, "alice@t.test")
    token = _page_token(client)
    for _ in range(5):
        wrong = client.post("/login", data={"email": "alice@t.test", "password": "wrong-password-1",
                                            "csrf_token": token})
        assert wrong.status_code == 401
    refused = client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    html = refused.get_data(as_text=True)
    assert 'role="alert"' in html and "Too many failed attempts" in html and "try again in 1 minute" in html
    assert client.get("/me/generations").status_code == 302  # nobody logged in
    failed = _failed_logins(rt)
    assert len(failed) == 5 and failed[0].after["via"] == "web"


# -- bounded password hashing --------------------------------------------------------------------------


def test_health_is_served_while_every_hashing_slot_is_held(rt, app, monkeypatch):
    """Logins that find no hashing slot are answered 503 after a short wait, instead of every
    thread queueing behind scrypt; requests that hash nothing go on being served."""
    monkeypatch.setenv("GL_PASSWORD_HASH_SLOTS", "2")
    monkeypatch.setenv("GL_PASSWORD_HASH_WAIT_MS", "200")
    create_user(rt, "alice@t.test")
    held = [accounts.hashing_slot() for _ in range(2)]
    for slot in held:
        slot.__enter__()
    answers: list = []
    try:
        def log_in_repeatedly():
            client = app.test_client()
            for _ in range(3):
                answers.append(_login(client, "alice@t.test", PASSWORD))

        threads = [threading.Thread(target=log_in_repeatedly) for _ in range(8)]
        for t in threads:
            t.start()
        health_ms = []
        client = app.test_client()
        for _ in range(10):
            started = time.perf_counter()
            assert client.get("/api/v1/health").status_code == 200
            health_ms.append((time.perf_counter() - started) * 1000)
        for t in threads:
            t.join(timeout=30)
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    assert len(answers) == 24
    assert {(a.status_code, a.json["error"]["code"], a.headers["Retry-After"]) for a in answers} == \
        {(503, "server_busy", "1")}
    assert max(health_ms) < 1000, health_ms  # never waits for a hashing slot
    assert _failed_logins(rt) == []  # a busy answer is no failed guess
    assert _login(app.test_client(), "alice@t.test", PASSWORD).status_code == 201  # slots free again


# -- API tokens --------------------------------------------------------------------------------------------


def test_a_new_token_keeps_its_fields_and_says_when_it_expires(rt, client):
    create_user(rt, "alice@t.test")
    before = utcnow()
    body = _login(client, "alice@t.test", PASSWORD).json
    assert {"id", "token", "prefix", "name", "expires_at", "created_at"} <= set(body)
    assert body["token"].startswith("glt_") and body["prefix"] == body["token"][:10] and body["name"] == "api"
    with rt.db.transaction() as s:
        token = s.get(ApiToken, body["id"])
        assert timedelta(days=30) <= token.expires_at - before < timedelta(days=30, minutes=1)


def test_an_expired_token_is_refused_with_its_own_code(rt, client, monkeypatch):
    alice = create_user(rt, "alice@t.test")
    monkeypatch.setenv("GL_TOKEN_LIFETIME", "1m")
    with rt.db.transaction() as s:
        raw, token = accounts.issue_token(s, s.get(User, alice.id))
    api = Api(client, raw)
    assert api.get("/api/v1/users/me").status_code == 200
    with rt.db.transaction() as s:
        s.get(ApiToken, token.id).expires_at = utcnow() - timedelta(seconds=1)
    expired = api.get("/api/v1/users/me")
    assert expired.status_code == 401 and expired.json["error"]["code"] == "token_expired"


def test_the_owner_lists_and_revokes_tokens_and_nobody_elses(rt, client, make_api):
    alice_api, alice = make_api("alice@t.test")
    bob_api, _ = make_api("bob@t.test")
    laptop = Api(client, _login(client, "alice@t.test", PASSWORD).json["token"])
    listed = alice_api.get(TOKENS)
    assert listed.status_code == 200
    items = listed.json["items"]
    assert len(items) == 2 and all(set(i) == {"id", "name", "created_at", "expires_at", "last_used_at"}
                                   for i in items)
    assert "glt_" not in listed.get_data(as_text=True)  # no secret, not even its prefix
    assert len(bob_api.get(TOKENS).json["items"]) == 1

    laptop_id = next(i["id"] for i in items if i["last_used_at"] is None)  # the fixture's token was just used
    assert bob_api.delete(f"{TOKENS}/{laptop_id}").json["error"]["code"] == "token_not_found"
    assert laptop.get("/api/v1/users/me").status_code == 200  # bob could not revoke it
    assert alice_api.delete(f"{TOKENS}/{laptop_id}").status_code == 204
    gone = laptop.get("/api/v1/users/me")
    assert gone.status_code == 401 and gone.json["error"]["code"] == "invalid_token"
    assert [i["id"] for i in alice_api.get(TOKENS).json["items"]] == [i["id"] for i in items if i["id"] != laptop_id]
    assert alice_api.delete(f"{TOKENS}/not-a-token").status_code == 404


def test_the_token_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/tokens"]) and "delete" in paths["/api/v1/tokens/{token_id}"]
    document = client.get("/api/v1/openapi.json").json
    assert "expires_at" in document["components"]["schemas"]["TokenOut"]["properties"]
    assert "503" in paths["/api/v1/tokens"]["post"]["responses"]  # server_busy is documented
