"""The OpenAPI 3.1 document of the REST API, generated from the route tables that also
register the routes (server/reference/routes.py) and from the pydantic input models."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from server.kernel.errors import STATUS_BY_CODE
from server.kernel.validation import MAX_ID, InputModel
from server.reference.routes import Access, QueryParam, Route, RouteTable, Shape, needs_consent
from server.reference.shapes import SHAPES, Schema, nullable, ref

OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
PATH_PARAMETER = re.compile(r"{(\w+)}")
# JSON types a route's `returns` may name; any other name is a component schema.
JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "object"})
NULLABLE = "|null"  # "integer|null": that type, or null

DESCRIPTION = """\
The HTTP half of peerrooms' API; the Socket.IO half (sending, editing, reactions, live \
events) is described in docs/api/events/.

Bodies are JSON objects. Inputs are strict: "5" is not an id and true is not a number; \
strings are trimmed before their limits are checked; unknown keys are ignored. Every refusal \
answers in one shape, `{"error": {"code", "message", ...}}`, with the status of its code \
(see the Error schema). Times are ISO 8601 in UTC with milliseconds and a Z suffix. Every \
response carries `X-Request-Id` (the caller's, if it sent a sane one)."""

# What each error code means, for the responses' descriptions.
ERROR_MEANINGS: dict[str, str] = {
    "unauthorized": "no token, or not a valid one",
    "forbidden": "not allowed to the caller",
    "not_found": "no such thing (path id, or an id in the body)",
    "conflict": "already done, or already taken",
    "invalid": "the body, query or path is not well-formed",
    "rate_limited": "too fast; see `retry_after_s`",
    "muted": "the caller is muted in this room; see `until`",
    "banned": "the caller is banned from this room; see `until`",
    "room_locked": "the room is locked",
    "meeting_closed": "outside the meeting's window",
    "blocked": "refused by a content filter",
    "consent_required": "the caller has not accepted the current consent notice; see `version`",
    "internal": "a failure on the server's side; try again",
    "unavailable": "a part the server needs does not answer",
}


def build_document(tables: Sequence[RouteTable]) -> dict[str, Any]:
    schemas: dict[str, Schema] = dict(SHAPES)
    paths: dict[str, dict[str, Any]] = {}
    for table in tables:
        for route in table.routes:
            operation = describe_route(route, table.tag, schemas)
            paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "peerrooms",
            "version": package_version(),
            "description": DESCRIPTION,
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [{"name": table.tag, "description": table.description} for table in tables],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The token of POST /api/auth/login or /api/auth/register.",
                }
            },
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """The document as committed in docs/api/openapi.json."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def package_version() -> str:
    try:
        return version("peerrooms")
    except PackageNotFoundError:
        return "0+unknown"


# ----- one operation -----


def describe_route(route: Route, tag: str, schemas: dict[str, Schema]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "tags": [tag],
        "summary": route.summary,
        "description": "\n\n".join(filter(None, [access_line(route.access), route.description])),
        "x-access": route.access.value,
    }
    parameters = [*path_parameters(route.path), *query_parameters(route)]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = request_body(route.body, schemas)
    if route.access is not Access.PUBLIC:
        operation["security"] = [{BEARER: []}]
    operation["responses"] = {
        str(route.status): success_response(route),
        **error_responses(implied_errors(route)),
    }
    return operation


def access_line(access: Access) -> str:
    if access is Access.PUBLIC:
        return "**Who:** anyone; no token needed."
    return f"**Who:** {access.value}, with `Authorization: Bearer <token>`."


def path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": f"A whole number from 1 to {MAX_ID}.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in PATH_PARAMETER.findall(path)
    ]


def query_parameters(route: Route) -> list[dict[str, Any]]:
    parameters = []
    if route.query is not None:
        parameters += model_query_parameters(route.query)
    parameters += [declared_parameter(param) for param in route.params]
    if route.csv:
        parameters.append(
            declared_parameter(
                QueryParam("format", "string", "json (default) or csv.", choices=("json", "csv"))
            )
        )
    return parameters


def model_query_parameters(model: type[InputModel]) -> list[dict[str, Any]]:
    """A query model's fields as parameters (the handler converts them to integers first)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": without_null(field),
        }
        for name, field in schema["properties"].items()
    ]


def without_null(field: Schema) -> Schema:
    """A query parameter is present or absent, never null: drop pydantic's null branch."""
    branches = [branch for branch in field.get("anyOf", []) if branch != {"type": "null"}]
    if len(branches) != 1:
        return field
    rest = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
    return {**rest, **branches[0]}


def declared_parameter(param: QueryParam) -> dict[str, Any]:
    schema: Schema = {"type": param.type}
    if param.choices:
        schema["enum"] = list(param.choices)
    return {
        "name": param.name,
        "in": "query",
        "required": param.required,
        "description": param.description,
        "schema": schema,
    }


def request_body(model: type[InputModel], schemas: dict[str, Schema]) -> dict[str, Any]:
    add_model_schema(model, schemas)
    return {
        # read_input takes an empty body as {}, which a model of optional fields accepts.
        "required": any(field.is_required() for field in model.model_fields.values()),
        "content": {"application/json": {"schema": ref(model.__name__)}},
    }


def add_model_schema(model: type[InputModel], schemas: dict[str, Schema]) -> None:
    """The model's JSON Schema under components/schemas, with its $defs beside it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = {model.__name__: schema, **schema.pop("$defs", {})}
    for name, definition in definitions.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are named {name}")


# ----- responses -----


def success_response(route: Route) -> dict[str, Any]:
    response: dict[str, Any] = {"description": route.summary}
    content: dict[str, Any] = {}
    if route.returns is not None:
        content["application/json"] = {"schema": body_schema(route.returns)}
    if route.media is not None:
        # Parameters such as charset or version belong to the answer, not the media type.
        media = route.media.split(";")[0]
        kind = "object" if media == "application/json" else "string"
        content[media] = {"schema": {"type": kind}}
    if route.csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    if content:
        response["content"] = content
    return response


def body_schema(returns: Mapping[str, Shape]) -> Schema:
    return {
        "type": "object",
        "required": list(returns),
        "properties": {key: shape_schema(shape) for key, shape in returns.items()},
    }


def shape_schema(shape: Shape) -> Schema:
    if isinstance(shape, list):
        (item,) = shape
        return {"type": "array", "items": shape_schema(item)}
    if shape.endswith(NULLABLE):
        return nullable(shape_schema(shape.removesuffix(NULLABLE)))
    if shape in JSON_TYPES:
        return {"type": shape}
    if shape not in SHAPES:
        raise ValueError(f"no schema is named {shape}")
    return ref(shape)


def implied_errors(route: Route) -> list[str]:
    """The codes a route can answer: what its access, path and inputs imply, its own, and
    `internal`; in the order of kernel/errors.py."""
    unknown = set(route.errors) - STATUS_BY_CODE.keys()
    if unknown:
        raise ValueError(f"{route.method} {route.path}: unknown error codes {sorted(unknown)}")
    codes = set(route.errors) | {"internal"}
    if route.access is not Access.PUBLIC:
        codes.add("unauthorized")
        if needs_consent(route.path):
            codes.add("consent_required")
    if route.access in (Access.STAFF, Access.ADMIN):
        codes.add("forbidden")
    has_path_id = bool(PATH_PARAMETER.search(route.path))
    if has_path_id:
        codes.add("not_found")
    if has_path_id or route.body or route.query or route.params or route.csv:
        codes.add("invalid")
    return [code for code in STATUS_BY_CODE if code in codes]


def error_responses(codes: Iterable[str]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS_BY_CODE[code], []).append(code)
    return {
        str(status): {
            "description": "; ".join(f"`{code}`: {ERROR_MEANINGS[code]}" for code in named),
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for status, named in sorted(by_status.items())
    }
