"""Schemathesis fuzz of every operation in the OpenAPI document: no answer is a server error.

Each operation is called by an anonymous caller and by a user of a role it admits (so role checks
do not stop the bodies short of the views), with valid data (it reaches the database) and invalid
data (it tests validation). Schemathesis's strings include NUL and the other controls; lone
surrogates it leaves out (they cannot be encoded as UTF-8), so a share of the cases gets one of
NUL, a C1 control or a lone surrogate planted in a string of its own. The run is derandomised
(the same cases each run: CI never goes red on a new draw) and bounded to stay near a minute.
CI runs the whole suite on SQLite and on PostgreSQL, so this runs on both (issue 13, point 6).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import date

import pytest
import schemathesis  # a dev dependency: CI must not pass without the fuzz
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.transport.serialization import serialize_binary

from app.api.spec import OPERATIONS
from app.models import Role
from tests.conftest import create_user, token_for

PREFIX = "/api/v1"
# Examples per operation, caller and mode; anonymous callers of operations that need a token are
# refused before their bodies are read, so they get a few (their path parameters still matter).
EXAMPLES = 6
ANONYMOUS_EXAMPLES = 2
# What schemathesis's own strings cannot carry (surrogates), and controls it may not draw often.
POISON = ("\x00", "\x85", "\x1b", "\ud800", "a\udfffb", "\u200b")
# Roles in order of preference when an operation admits several: the widest powers reach furthest.
PREFERENCE = (Role.ADMIN, Role.SENIOR_REVIEWER, Role.REVIEWER, Role.RIGHTSHOLDER, Role.SERVICE, Role.CREATOR)


@schemathesis.serializer("video/mp4", "video/webm", "video/quicktime", "text/csv")
def _raw_file(ctx, value):
    """The raw-body uploads the document declares that schemathesis has no serializer for: bytes as they are."""
    return {"data": serialize_binary(value)}


def _plant(value, poison: str, index: int):
    """`value` with `poison` appended to its index-th string (counting depth-first), if there is one."""
    strings = []

    def walk(v, path):
        if isinstance(v, str):
            strings.append(path)
        elif isinstance(v, dict):
            for k, item in v.items():
                walk(item, (*path, k))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, (*path, i))

    walk(value, ())
    if not strings:
        return value
    path = strings[index % len(strings)]
    if not path:
        return value + poison
    target = value
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = target[path[-1]] + poison
    return value


@st.composite
def poisoned(draw, strategy):
    """(case, raw body or None): a third of the cases carry a planted character. A lone surrogate
    goes only into a JSON body, sent as raw bytes (schemathesis re-validates the bodies it holds,
    and its validator cannot take a surrogate; a URL cannot carry one at all)."""
    case = draw(strategy)
    if draw(st.integers(0, 2)):
        return case, None
    poison, index = draw(st.sampled_from(POISON)), draw(st.integers(0, 20))
    where = draw(st.sampled_from(("body", "path_parameters", "query")))
    value = getattr(case, where, None)
    if not isinstance(value, (dict, list, str)) or not value:
        return case, None
    if any("\ud800" <= c <= "\udfff" for c in poison):
        if where != "body":
            return case, None
        return case, json.dumps(_plant(copy.deepcopy(value), poison, index)).encode()
    setattr(case, where, _plant(value, poison, index))
    return case, None


def _role_for(roles: frozenset[str] | None) -> Role:
    for role in PREFERENCE:
        if roles and role.value in roles:
            return role
    return Role.CREATOR


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(app, rt, caplog):
    tokens = {role: token_for(rt, create_user(rt, f"{role.value}@fuzz.test", role=role, birthdate=date(1990, 1, 1),
                                              handle=f"fuzz_{role.value}"[:32]))
              for role in PREFERENCE}
    roles_of = {(PREFIX + op.path.replace("<", "{").replace(">", "}"), op.method.upper()): op.roles
                for op in OPERATIONS}
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    failures: list[str] = []
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        needs_token = bool(operation.definition.raw.get("security"))
        role = _role_for(roles_of.get((operation.path, operation.method.upper())))
        for caller, examples in (("anonymous", ANONYMOUS_EXAMPLES if needs_token else EXAMPLES), (role, EXAMPLES)):
            headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller != "anonymous" else {}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                          phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
                @given(drawn=poisoned(operation.as_strategy(generation_mode=mode)))
                def run(drawn):
                    case, raw = drawn
                    if caller == "anonymous":
                        (case.headers or {}).pop("Authorization", None)
                    sent = {} if raw is None else {"data": raw, "headers": headers | {"Content-Type": "application/json"}}
                    response = case.call(**({"headers": headers} | sent))
                    try:
                        case.validate_response(response, checks=[not_a_server_error])
                    except FailureGroup:
                        failures.append(f"{response.status_code} {case.operation.label} as {caller}: "
                                        f"{case.as_curl_command(headers=headers)}{' with body ' + raw.decode() if raw else ''}\n"
                                        f"  {response.text[:300]}")

                with caplog.at_level(logging.CRITICAL, logger="app.api"):  # 5xx are collected, not logged
                    try:
                        run()
                    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                        assert mode == GenerationMode.NEGATIVE, operation.label

    assert operations >= len(OPERATIONS), "every operation is in the OpenAPI document"
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:40])


def test_the_document_gives_query_parameters_their_types_and_raw_bodies_their_media_types(client):
    """What the fuzz generates from: without these it sends strings for integers and no files."""
    doc = client.get(f"{PREFIX}/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in doc["paths"][f"{PREFIX}/generations"]["get"]["parameters"]}
    assert params["limit"] == {"default": 20, "description": "page size (1-100)", "maximum": 100, "minimum": 1,
                               "type": "integer"}
    cases = {p["name"]: p["schema"] for p in doc["paths"][f"{PREFIX}/cases"]["get"]["parameters"]}
    assert cases["state"]["enum"] == ["open", "assigned", "escalated", "decided", "reopened"]
    upload = doc["paths"][f"{PREFIX}/uploads/images"]["post"]["requestBody"]["content"]
    assert set(upload) == {"image/jpeg", "image/png", "image/webp"}
    assert upload["image/png"]["schema"] == {"type": "string", "format": "binary"}
    enrol = doc["paths"][f"{PREFIX}/cameos/enrol/{{challenge_id}}/video"]["post"]["requestBody"]["content"]
    assert "video/mp4" in enrol
