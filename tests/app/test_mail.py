"""Verification codes for people without an account: one use, five guesses, five codes an hour."""

from __future__ import annotations

import re

import pytest

from app import mail
from app.errors import GreenlightError
from app.models import EmailVerification


def code_in_outbox(s, email: str) -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox(s, email, limit=1)[0].body).group(1)


def test_a_code_verifies_its_address_once(rt):
    with rt.db.transaction() as s:
        mail.start_verification(s, " Someone@Example.ORG ")
        code = code_in_outbox(s, "someone@example.org")
        assert mail.confirm(s, "someone@example.org", code) == "someone@example.org"
    with rt.db.transaction() as s, pytest.raises(GreenlightError) as err:
        mail.confirm(s, "someone@example.org", code)
    assert err.value.code == "email_not_verified"


def test_wrong_guesses_count_even_though_the_request_fails(rt, client):
    api = lambda body: client.post("/api/v1/email-verifications", json=body)  # noqa: E731
    assert api({"email": "x@example.org"}).status_code == 202
    assert api({"email": "not-an-address"}).get_json()["error"]["code"] == "invalid_email"
    for _ in range(mail.MAX_ATTEMPTS):
        with pytest.raises(GreenlightError) as err, rt.db.transaction() as s:
            mail.confirm(s, "x@example.org", "000000" if _ % 2 else "999999")
        assert err.value.code in ("email_code_wrong", "email_not_verified")
    with rt.db.transaction() as s:
        assert s.query(EmailVerification).one().attempts == mail.MAX_ATTEMPTS
        code = code_in_outbox(s, "x@example.org")
    with pytest.raises(GreenlightError) as err, rt.db.transaction() as s:
        mail.confirm(s, "x@example.org", code)  # the right code, too late
    assert err.value.code == "email_not_verified"


def test_codes_per_address_are_rate_limited(rt, client):
    for _ in range(mail.MAX_CODES_PER_HOUR):
        assert client.post("/api/v1/email-verifications", json={"email": "y@example.org"}).status_code == 202
    refused = client.post("/api/v1/email-verifications", json={"email": "y@example.org"})
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_codes"
