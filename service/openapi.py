"""What the OpenAPI document says beyond what Litestar derives from the handlers.

**Error answers.** Litestar documents only a 400 of its own shape (`{status_code, detail, extra}` as
application/json); the app answers every error as problem details (service.errors). This plugin
declares, for each operation as its route is registered, the problem responses it can give:

    400  it takes parameters or a body (invalid input, one message per field)
    401, 403  it is guarded (no or a wrong token; a token without the role)
    404  it names something in its path or body (unknown conference, token, id)
    409  it changes something (full, closed, clash, taken, wrong state, already exists)
    413  it takes a body (more than the app reads)
    429  it is limited per client (service.ratelimit)
    503  always: the database out of reach

A handler adds or overrides entries with `responses=problems(…)`. Pages outside the API (the
floor plan) answer errors with the HTML error page instead.

**Closed bodies.** Input structs are `forbid_unknown_fields=True` (a misspelt field is an error,
not silently dropped); Litestar does not carry that into the schema, so `ClosedStructs` adds
`additionalProperties: false` to them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import msgspec
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.typing import FieldDefinition
from msgspec import Struct

from service.ratelimit import AtomicRateLimitMiddleware

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

PROBLEM_JSON = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Injected by the app, never sent by a caller: they do not make an operation take input.
INJECTED = frozenset({"self", "db", "state", "request", "staff", "scope", "headers", "cookies"})

DESCRIPTIONS = {
    400: "Invalid input: `errors` names each invalid field with a message",
    401: "No API token, or an unknown or revoked one",
    403: "The token's account does not have the role",
    404: "Not found (unknown conference, token or id)",
    409: "Not possible now (full, closed, clash, taken, wrong state), or it already exists",
    413: "The request body is too large",
    429: "Too many requests from this client; wait a minute",
    503: "The database cannot be reached right now",
}


class FieldError(Struct):
    field: str
    message: str


class InvalidParam(Struct):
    name: str
    reason: str


class Problem(Struct):
    """RFC 9457 problem details, with the invalid fields for a 400."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldError] | None = None
    invalid_params: list[InvalidParam] | None = None


def problems(*codes: int, description: str | None = None) -> dict[int, ResponseSpec]:
    """`responses=` for a handler: these status codes answer with problem details."""
    return {
        code: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=description or DESCRIPTIONS.get(code, "Error"),
            generate_examples=False,
        )
        for code in codes
    }


def error_pages(*codes: int) -> dict[int, ResponseSpec]:
    """The same codes for a page outside the API: the HTML error page."""
    return {
        code: ResponseSpec(
            data_container=str,
            media_type="text/html",
            description=DESCRIPTIONS.get(code, "Error"),
            generate_examples=False,
        )
        for code in codes
    }


def is_api_path(path: str) -> bool:
    """Where errors are problem details (service.errors answers the rest with a page)."""
    return path.startswith("/api/") or path == "/health" or path.startswith("/schema")


def _rate_limited(handler: HTTPRouteHandler) -> bool:
    return any(
        isinstance(m, DefineMiddleware) and m.middleware is AtomicRateLimitMiddleware
        for m in handler.resolve_middleware()
    )


def _inputs(handler: HTTPRouteHandler) -> set[str]:
    """What a caller sends: the handler's parameters and those of the dependencies it takes
    (a path's `slug` read by the conference lookup is input, the row it yields is not)."""
    dependencies = handler.resolve_dependencies()
    inputs: set[str] = set()
    names, seen = list(handler.parsed_fn_signature.parameters), set(INJECTED)
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in dependencies:
            names.extend(dependencies[name].parsed_fn_signature.parameters)
        else:
            inputs.add(name)
    return inputs


def codes_for(handler: HTTPRouteHandler, path: str) -> set[int]:
    methods = {str(m) for m in handler.http_methods}
    inputs = _inputs(handler)
    codes = {503}
    if inputs:
        codes.add(400)
    if "{" in path or "data" in inputs:  # a body may name a conference, a person, a stand
        codes.add(404)
    if "data" in inputs:
        codes.add(413)
    if methods - SAFE_METHODS:
        codes.add(409)
    if handler.resolve_guards():
        codes |= {401, 403}
    if _rate_limited(handler):
        codes.add(429)
    return codes


class ProblemResponses(ReceiveRoutePlugin):
    """Declares each API operation's problem responses (see the module's docstring)."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            codes = sorted(codes_for(handler, route.path))
            declared = problems(*codes) if is_api_path(route.path) else error_pages(*codes)
            handler.responses = {**declared, **(handler.responses or {})}


class ClosedStructs(StructSchemaPlugin):
    """Input structs (those that refuse unknown fields) are drawn with msgspec's own JSON schema,
    which states every constraint msgspec checks; Litestar 2.x drops some (a bound of 0, `gt`,
    the constraints of list items and of `X | UnsetType` fields: litestar#3999, #5031) and does
    not say that unknown fields are refused (`additionalProperties: false`).

    Litestar's struct plugin (a private module in 2.x) still draws fields that refer to other
    structs, so component names stay Litestar's. App plugins are asked before the built-in
    ones, so this one takes the input structs."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        _, components = msgspec.json.schema_components([struct])
        exact = components[struct.__name__]
        for name, prop in exact.get("properties", {}).items():
            if "$ref" not in msgspec.json.encode(prop).decode() and schema.properties:
                schema.properties[name] = _schema(prop)
        schema.required = sorted(exact.get("required", []))
        schema.additional_properties = False
        return schema


_SCHEMA_FIELDS = {f.metadata.get("alias", f.name): f.name for f in dataclasses.fields(Schema)}


def _schema(value: dict[str, Any]) -> Schema:
    """A JSON Schema (as msgspec writes it, without references) as Litestar's Schema object."""
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("items", "not", "additionalProperties") and isinstance(item, dict):
            item = _schema(item)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            item = [_schema(i) for i in item]
        elif key == "properties":
            item = {k: _schema(v) for k, v in item.items()}
        elif key == "type":
            item = [OpenAPIType(t) for t in item] if isinstance(item, list) else OpenAPIType(item)
        fields[_SCHEMA_FIELDS[key]] = item  # an unknown keyword fails loudly here
    return Schema(**fields)
