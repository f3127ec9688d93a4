"""`endpoint`: one decorator that routes, authenticates, validates the body, runs the view in a
transaction, serialises the response and records the operation for the OpenAPI document."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app import accounts, inputs, runtime
from app.api.schemas import TEXT_CODES, Body
from app.errors import Forbidden, GreenlightError, Unauthenticated, ValidationFailed
from app.models import Role, User


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: bool
    roles: frozenset[str] | None
    query: type[BaseModel] | None
    errors: tuple[str, ...] = field(default=())
    raw_body: tuple[str, ...] = field(default=())  # content types of a file sent as the raw body


OPERATIONS: list[Operation] = []


def session() -> Session:
    return g.db_session


def current_user() -> User:
    return g.user


def optional_user() -> User | None:
    """On an endpoint open to people without an account (auth=False): the signed-in user when a
    bearer token is sent (a wrong one is refused, never silently ignored), else None."""
    if not request.headers.get("Authorization"):
        return None
    return _authenticate(g.db_session)


def _authenticate(s: Session) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthenticated("a bearer token is required", code="unauthenticated")
    user = accounts.user_for_token(s, raw.strip())
    if user is None:
        raise Unauthenticated("the token is unknown or revoked", code="invalid_token")
    return user


def validation_details(exc: ValidationError) -> dict[str, Any]:
    return {"errors": [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                       for e in exc.errors(include_url=False, include_input=False)]}


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise GreenlightError("send a JSON body with Content-Type: application/json",
                              code="unsupported_media_type", status=415)
    raw = request.get_data(cache=False)
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            _refuse_undecodable_text(model, raw)
            raise GreenlightError("the body is not valid JSON", code="invalid_json", status=400) from None
        for e in errors:
            if e["type"] in TEXT_CODES:  # its own code: invalid_characters, prompt_not_utf8, empty_prompt
                field = ".".join(str(part) for part in e["loc"])
                details = {"field": field} | {k: v for k, v in (e.get("ctx") or {}).items() if k != "what"}
                raise ValidationFailed(f"{field}: {e['msg']}", code=e["type"], details=details) from None
        raise ValidationFailed("the request body is invalid", details=validation_details(exc)) from None


def _refuse_undecodable_text(model: type[BaseModel], raw: bytes) -> None:
    """The JSON parser refuses lone surrogates (`"\\ud800"`) and bytes that are not UTF-8 as invalid
    JSON; when that is all that is wrong, say which field, with the field's own code."""
    try:
        doc = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return
    found = inputs.find_bad(doc, surrogates_only=True)
    if found is None:
        return
    loc, text, position = found
    rules = model.text_rules(loc[0]) if loc and isinstance(loc[0], str) and issubclass(model, Body) else None
    code = rules.not_utf8 if rules else "invalid_characters"
    field = ".".join(str(part) for part in loc) or "body"
    raise ValidationFailed(f"{field}: the text is not valid UTF-8 ({inputs.describe(text, position)})", code=code,
                           details={"field": field, "position": position})


def _parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("the query string is invalid", details=validation_details(exc)) from None


def endpoint(bp: Blueprint, rule: str, method: str, *, summary: str, tag: str,
             body: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
             query: type[BaseModel] | None = None, status: int = 200, auth: bool = True,
             roles: set[str] | None = None, errors: tuple[str, ...] = (),
             raw_body: tuple[str, ...] = ()) -> Callable:
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**path_args):
            with runtime.current().db.transaction() as s:
                g.db_session = s
                if auth:
                    g.user = _authenticate(s)
                    if roles and g.user.role not in roles:
                        raise Forbidden("your role may not do this", code="role_not_allowed")
                    if g.user.role == Role.SERVICE and not roles:
                        raise Forbidden("service accounts reach only the endpoints made for them",
                                        code="role_not_allowed")
                kwargs = dict(path_args)
                if body is not None:
                    kwargs["body"] = _parse_body(body)
                if query is not None:
                    kwargs["query"] = _parse_query(query)
                result = view(**kwargs)
                if isinstance(result, Response):
                    return result
                payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
                return jsonify(payload), status

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        OPERATIONS.append(Operation(rule, method.lower(), summary, tag, body, response, status, auth,
                                    frozenset(roles) if roles else None, query, errors, tuple(raw_body)))
        return wrapper
    return decorator


_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def query_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Each query parameter's own schema (type, enum, bounds, pattern), inlined: a query parameter
    is never null (it is left out instead), and the document names no query models."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            node = {k: inline(v) for k, v in node.items() if k != "title"}
            options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
            if "anyOf" in node and len(options) == 1:
                node = {k: v for k, v in node.items() if k != "anyOf"} | options[0]
            if node.get("default", 0) is None:
                del node["default"]
            return node
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {name: inline(prop) for name, prop in schema.get("properties", {}).items()}


def openapi_document(title: str, version: str, prefix: str) -> dict[str, Any]:
    components: dict[str, Any] = {"ErrorEnvelope": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            components[name] = sub
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path = prefix + _PATH_PARAM.sub(r"{\1}", op.path)
        item: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "operationId": f"{op.method}_{path}"}
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in _PATH_PARAM.findall(op.path)]
        if op.query is not None:
            properties = query_schema(op.query)
            for name, f in op.query.model_fields.items():
                params.append({"name": name, "in": "query", "required": f.is_required(),
                               "description": f.description or "", "schema": properties.get(name, {"type": "string"})})
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.body)}}}
        elif op.raw_body:
            item["requestBody"] = {"required": True, "content": {
                ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in op.raw_body}}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": ref(op.response)}}
        error = {"description": "Error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
        responses: dict[str, Any] = {str(op.status): ok, "4XX": error}
        if op.errors:
            error_codes = ", ".join(op.errors)
            responses["4XX"] = dict(error, description=f"Error; codes include {error_codes}")
        if "server_busy" in op.errors:  # the one 5XX an operation names: try again after Retry-After
            responses["503"] = dict(error, description="Busy for a moment (server_busy): retry after Retry-After")
        item["responses"] = responses
        if op.auth:
            item["security"] = [{"bearer": []}]
        if op.roles:
            item["description"] = "Roles: " + ", ".join(sorted(op.roles))
        paths.setdefault(path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
