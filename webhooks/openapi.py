"""The OpenAPI 3.1 document, generated from the route table and the pydantic models that validate it."""
from __future__ import annotations

import re
from typing import get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from webhooks.routing import Route
from webhooks.schemas import Problem

REF = "#/components/schemas/{model}"


def _model_of(tp) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if get_origin(tp) is list:
        return _model_of(get_args(tp)[0])
    return None


def build(routes: list[Route], title: str = "orderdesk") -> dict:
    pairs = {(Problem, "serialization")}
    for r in routes:
        if r.body:
            pairs.add((r.body, "validation"))
        for tp in r.responses.values():
            if (m := _model_of(tp)) is not None:
                pairs.add((m, "serialization"))
    keyed, defs = models_json_schema(sorted(pairs, key=lambda p: (p[0].__name__, p[1])), ref_template=REF)
    schemas = defs.get("$defs", {})

    def ref(model, mode):
        return keyed[(model, mode)]

    paths: dict[str, dict] = {}
    for r in routes:
        op: dict = {"summary": r.summary, "tags": [r.tag], "operationId": _operation_id(r), "responses": {}}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"{(\w+)}", r.path)]
        if r.query:
            for name, schema in TypeAdapter(r.query).json_schema(ref_template=REF)["properties"].items():
                params.append({"name": name, "in": "query", "required": False, "schema": _left_out_not_null(schema)})
        if params:
            op["parameters"] = params
        if r.roles is not None:
            op["security"] = [{"bearer": []}]
        if r.body:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": ref(r.body, "validation")}}}
        for status, tp in r.responses.items():
            model = _model_of(tp)
            schema = ref(model, "serialization") if model else {}
            if model and get_origin(tp) is list:
                schema = {"type": "array", "items": schema}
            op["responses"][str(status)] = {"description": r.summary,
                                            "content": {"application/json": {"schema": schema}}}
        for status in r.errors:
            op["responses"][str(status)] = {"description": "Problem details (RFC 9457)",
                                            "content": {"application/problem+json": {"schema": ref(Problem, "serialization")}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _left_out_not_null(schema: dict) -> dict:
    """A query parameter is absent rather than null: `x: T | None = None` is documented as an optional T."""
    options = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if len(options) == len(schema.get("anyOf", ())):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest, **options[0]} if len(options) == 1 else {**rest, "anyOf": options}


def _operation_id(r: Route) -> str:
    return r.handler.__name__[0].lower() + re.sub(r"_(\w)", lambda m: m[1].upper(), r.handler.__name__)[1:]
