"""`mdepack export openapi`: the HTTP trigger described for other engines, from the manifest.

- OpenAPI 3.1 (JSON Schema 2020-12 as it is): `POST /actions/{action}` for every action and
  `POST /playbooks/{playbook}` for every shipped playbook, one operation each (`operationId` is
  the action's name), request and response bodies from the schemas, and the error statuses the
  trigger answers.
- Swagger 2.0 (`--swagger`): the custom-connector format Power Automate and Logic Apps import.
  Draft 2020-12 is converted where 2.0 has an equivalent (`$defs` → `definitions`, `const` → a
  one-value `enum`, `type: [T, "null"]` → `x-nullable`, numeric `exclusiveMinimum` → the boolean
  form, a nullable `anyOf` → its schema); an `anyOf` of several shapes is widened to the most
  general one the trigger accepts, and each such loss is reported as a note, never emitted as
  invalid 2.0.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mdepack import __version__
from mdepack import manifest as manifest_module
from mdepack.errors import HTTP_STATUSES
from mdepack.schemas import hoisted, schema_hoisted

TITLE = "mdepack: Defender for Endpoint machine actions"
DESCRIPTION = (
    "The mdepack HTTP trigger (AWS Lambda function URL / API Gateway, or Azure Functions): "
    "each operation runs one action or shipped playbook through the pack's validation, "
    'retries and rate budget. Errors are {"error": {"type", "message", ...}}; the type '
    "names are stable (InputError, GuardError, RateLimitError, TransientError, ...)."
)
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "description": "The pack's error class name."},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "rule": {"type": "string"},
                "code": {"type": "string", "description": "The API's error code."},
                "status": {"type": "integer", "description": "The API's HTTP status."},
                "target": {"type": "string", "description": "The API's request id."},
            },
        }
    },
}
# Keywords of Draft 2020-12 that Swagger 2.0 schemas do not have and that are dropped (noted).
_NO_V2 = (
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "if",
    "then",
    "else",
    "not",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "patternProperties",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
)


@dataclass
class Operation:
    """One POST the trigger answers."""

    path: str
    operation_id: str
    summary: str
    description: str
    request: str  # component name of the request body schema
    response: str  # component name of the 200 body schema
    writes: bool


def operations(prefix: str, definitions: dict[str, Any]) -> Iterator[Operation]:
    """Every action and shipped playbook as an Operation, their schemas put in `definitions`."""
    pack = manifest_module.load()
    for name, action in pack.actions.items():
        definitions[f"{name}_input"] = hoisted(action.input, prefix, definitions)[0]
        definitions[f"{name}_output"] = hoisted(action.output, prefix, definitions)[0]
        yield Operation(
            f"/actions/{name}",
            name,
            _summary(name),
            f"{action.description} Defender for Endpoint: {action.method} {action.path} "
            f"(permission {action.permission}; {action.side_effects}s).",
            f"{name}_input",
            f"{name}_output",
            action.writes,
        )
    from mdepack.playbook import document

    for path in sorted((pack.root / "playbooks").glob("*.yaml")):
        playbook = document.load(path)
        inputs = playbook.document.get("inputs") or {"type": "object"}
        key = f"playbook_{path.stem}"
        definitions[f"{key}_input"] = schema_hoisted(
            copy.deepcopy(inputs), playbook.relative, prefix, definitions
        )[0]
        definitions[f"{key}_output"] = {
            "type": "object",
            "properties": {name: {} for name in playbook.document.get("outputs") or {}},
        }
        writes = any(pack.action(str(s["action"])).writes for s in playbook.steps)
        yield Operation(
            f"/playbooks/{path.stem}",
            key,
            _summary(path.stem) + " (playbook)",
            str(playbook.document.get("description", playbook.name)),
            f"{key}_input",
            f"{key}_output",
            writes,
        )


def openapi(base_url: str = "https://localhost:7071/api") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP trigger."""
    paths, definitions = _paths("#/components/schemas/", swagger=False)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [
            {
                "url": "{base}",
                "variables": {
                    "base": {
                        "default": base_url,
                        "description": "The function's base URL: https://HOST/api on Azure "
                        "Functions, the function URL (or API stage URL) on AWS.",
                    }
                },
            }
        ],
        "security": [{"functionKey": []}, {}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {
                "functionKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-functions-key",
                    "description": "Azure Functions function key. On AWS, sign requests with "
                    "SigV4 (function URL with AWS_IAM auth) instead.",
                }
            },
        },
    }


def swagger(host: str = "localhost:7071", notes: list[str] | None = None) -> dict[str, Any]:
    """The Swagger 2.0 custom connector; what 2.0 cannot say is appended to `notes`."""
    said = notes if notes is not None else []
    paths, definitions = _paths("#/definitions/", swagger=True)
    converted = {name: _to_v2(schema, name, said) for name, schema in definitions.items()}
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "host": host,
        "basePath": "/api",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "function_key": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
        },
        "security": [{"function_key": []}],
        "paths": paths,
        "definitions": converted,
    }


def _paths(prefix: str, swagger: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, schema definitions) of every operation, in OpenAPI 3.1's shape or Swagger 2.0's
    (a body parameter, schemas straight in the responses, the connector's hints)."""
    definitions: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for op in operations(prefix, definitions):
        responses = {"200": _answer("The output.", prefix + op.response, swagger)}
        for status, meaning in HTTP_STATUSES.items():
            responses[str(status)] = _answer(meaning, prefix + "Error", swagger, status == 429)
        post: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
        }
        body = {"$ref": prefix + op.request}
        if swagger:
            post["x-ms-visibility"] = "important"
            post["parameters"] = [
                {
                    "name": "body",
                    "in": "body",
                    "required": True,
                    "x-ms-summary": "Input",
                    "schema": body,
                }
            ]
            _connector_hints(definitions[op.request])
        else:
            post["tags"] = ["writes" if op.writes else "reads"]
            post["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        post["responses"] = responses
        paths[op.path] = {"post": post}
    definitions["Error"] = ERROR_SCHEMA
    return paths, definitions


def _answer(description: str, ref: str, swagger: bool, retry_after: bool = False) -> dict[str, Any]:
    """One response: its JSON body schema, and for a 429 (in 3.1) the Retry-After header."""
    if swagger:
        return {"description": description, "schema": {"$ref": ref}}
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ref}}},
    }
    if retry_after:
        answer["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return answer


def _connector_hints(schema: dict[str, Any]) -> None:
    """`x-ms-summary` on each input, `x-ms-visibility` advanced for the optional ones."""
    required = set(schema.get("required", []))
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            prop["x-ms-summary"] = name.replace("_", " ").capitalize()
            prop["x-ms-visibility"] = "important" if name in required else "advanced"


def _to_v2(node: Any, where: str, notes: list[str]) -> Any:
    """A 2020-12 schema as a Swagger 2.0 schema object (see the module's notes)."""
    if isinstance(node, list):
        return [_to_v2(item, where, notes) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in ("$schema", "$id", "$comment", "examples", "$defs"):
        node.pop(key, None)
    for key in _NO_V2:
        if key in node:
            node.pop(key)
            notes.append(f"{where}: dropped `{key}`, which Swagger 2.0 cannot express")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for key in ("anyOf", "oneOf"):
        if key in node:
            node = _one_of(node, node.pop(key), f"{where}.{key}", notes)
    kinds = node.get("type")
    if isinstance(kinds, list):
        real = [k for k in kinds if k != "null"]
        if len(real) < len(kinds):
            node["x-nullable"] = True
        if len(real) == 1:
            node["type"] = real[0]
        else:
            node.pop("type")
            if real:
                notes.append(f"{where}: a value of type {' or '.join(real)}: left untyped")
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), (int, float)) and not isinstance(node[bound], bool):
            node[plain] = node.pop(bound)
            node[bound] = True
    if isinstance(node.get("items"), list):
        notes.append(f"{where}: a tuple `items` widened to any item")
        node["items"] = {}
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties",) and isinstance(value, dict):
            result[key] = {n: _to_v2(v, f"{where}.{n}", notes) for n, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _to_v2(value, f"{where}[]", notes)
        elif key == "allOf":
            result[key] = _to_v2(value, where, notes)
        else:
            result[key] = value
    ref = result.get("$ref")
    if ref is not None and len(result) > 1:
        # Siblings of a $ref are ignored in 2.0: keep them beside an allOf of the reference.
        result.pop("$ref")
        result["allOf"] = [{"$ref": ref}]
    if "enum" in result and "type" not in result and "allOf" not in result:
        result["type"] = _enum_type(result["enum"])
    return result


def _one_of(node: dict[str, Any], branches: list[Any], where: str, notes: list[str]) -> Any:
    """`anyOf`/`oneOf` resolved: a nullable schema, one shared enum, or the widest branch."""
    real = [b for b in branches if b != {"type": "null"}]
    nullable = len(real) < len(branches)
    if len(real) == 1:
        merged = {**node, **real[0]} if "$ref" not in real[0] else {**node, "allOf": [real[0]]}
        if nullable:
            merged["x-nullable"] = True
        return merged
    if all(isinstance(b, dict) and "enum" in b and "$ref" not in b for b in real):
        values = [v for b in real for v in b["enum"]]
        return {**node, "enum": list(dict.fromkeys(values))}
    lists = [b for b in real if isinstance(b, dict) and b.get("type") == "array"]
    if lists:
        notes.append(f"{where}: one value or a list: the connector sends the list form")
        widened = {**node, **lists[0]}
    else:
        notes.append(f"{where}: several forms: widened to a string (the trigger checks it)")
        widened = {**node, "type": "string"}
    if nullable:
        widened["x-nullable"] = True
    return widened


def _enum_type(values: list[Any]) -> str:
    kinds = {type(v).__name__ for v in values if v is not None}
    names = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    return names.get(next(iter(kinds)), "string") if len(kinds) == 1 else "string"


def _summary(name: str) -> str:
    return name.replace("_", " ").capitalize()
