"""GET /api/openapi.json (CONTRACT §2): a valid OpenAPI 3.1 document of every route, from the validating models."""
import re
import shutil

import pytest

from core.settings import Settings
from core.status import Status
from webhooks.app import create_app

# CONTRACT §2's route table, as far as the foundation goes.
CONTRACT_ROUTES = [
    ("get", "/health"), ("get", "/api/products/"), ("post", "/api/products/"), ("get", "/api/products/{id}/"),
    ("patch", "/api/products/{id}/"), ("post", "/api/products/{id}/stock/"), ("post", "/api/orders/"),
    ("get", "/api/orders/"), ("get", "/api/orders/my-orders/"), ("get", "/api/orders/{id}/"),
    ("patch", "/api/orders/{id}/"), ("post", "/api/orders/{id}/confirm/"), ("post", "/api/orders/{id}/cancel/"),
    ("post", "/api/token/"), ("post", "/api/token/refresh/"), ("post", "/api/auth/register/"),
    ("get", "/api/auth/profile/"), ("patch", "/api/auth/profile/"), ("post", "/api/auth/profile/phone/"),
    ("get", "/api/ledger/"),
]
ANYONE = {("get", "/health"), ("get", "/api/products/"), ("get", "/api/products/{id}/"), ("post", "/api/orders/"),
          ("post", "/api/token/"), ("post", "/api/token/refresh/"), ("post", "/api/auth/register/")}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
async def api(aiohttp_client, tmp_path, sqlite_template):
    """The document does not depend on the database, so these tests run on SQLite alone."""
    path = tmp_path / "orderdesk.db"
    shutil.copy(sqlite_template, path)
    return await aiohttp_client(create_app(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{path}")))


@pytest.fixture
async def document(api) -> dict:
    response = await api.get("/api/openapi.json")
    assert response.status == 200, await response.text()
    return await response.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method, path, op


def refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def follow(document, node: dict) -> dict:
    """The schema a `$ref` points at (once, or through a chain)."""
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def enum_of(document, schema: dict) -> set:
    """The enum values a (possibly nullable, referenced) schema allows."""
    schema = follow(document, schema)
    if "enum" in schema:
        return set(schema["enum"])
    return set().union(*(enum_of(document, s) for s in schema.get("anyOf", []) + schema.get("oneOf", [])
                         if s.get("type") != "null"))


async def test_the_document_is_openapi_3_1(document):
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"]


async def test_every_reference_in_the_document_resolves(document):
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


async def test_every_operation_is_well_formed(document):
    seen_ids = set()
    for method, path, op in operations(document):
        assert op["responses"], (method, path)
        assert all(re.fullmatch(r"[1-5]\d\d", code) and r["description"] for code, r in op["responses"].items())
        assert op["operationId"] not in seen_ids, op["operationId"]
        seen_ids.add(op["operationId"])
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
        assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")
        for parameter in op.get("parameters", []):
            assert parameter["in"] in ("path", "query", "header", "cookie") and "schema" in parameter


async def test_every_contract_route_is_documented(document):
    documented = {(method, path) for method, path, _ in operations(document)}

    assert set(CONTRACT_ROUTES) <= documented, set(CONTRACT_ROUTES) - documented


async def test_every_served_api_route_is_documented(api, document):
    served = {(r.method.lower(), r.resource.canonical) for r in api.app.router.routes()
              if r.method != "HEAD" and r.resource.canonical.startswith("/api/")
              and r.resource.canonical != "/api/openapi.json"}
    documented = {(m, p.rstrip("/")) for m, p, _ in operations(document)}

    assert {(m, p.rstrip("/")) for m, p in served} <= documented


async def test_routes_that_need_a_token_say_so_and_public_ones_do_not(document):
    for method, path, op in operations(document):
        if (method, path) in ANYONE:
            assert not op.get("security"), (method, path)
        else:
            assert op.get("security"), (method, path)
            assert {"401", "403"} <= op["responses"].keys(), (method, path)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_errors_are_documented_as_problem_json(document):
    for method, path, op in operations(document):
        for code, response in op["responses"].items():
            if code.startswith("4"):
                assert "application/problem+json" in response["content"], (method, path, code)


async def test_the_accounts_routes_are_documented_in_simplejwt_s_snake_case(document):
    schemas = document["components"]["schemas"]
    sign_in = document["paths"]["/api/token/"]["post"]
    pair = sign_in["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    register = document["paths"]["/api/auth/register/"]["post"]["requestBody"]["content"]["application/json"]

    assert set(schemas[pair]["properties"]) == {"access", "refresh", "user"}
    assert {"first_name", "last_name", "role"} <= set(schemas["UserOut"]["properties"])
    assert schemas["UserOut"]["properties"]["role"]["enum"] == ["admin", "seller", "buyer"]
    assert {"429", "401"} <= sign_in["responses"].keys()
    assert register["schema"]["$ref"].endswith("/Register")


async def test_the_patch_order_status_is_an_enum_of_the_statuses(document):
    body = document["paths"]["/api/orders/{id}/"]["patch"]["requestBody"]["content"]["application/json"]["schema"]

    status = follow(document, body)["properties"]["status"]

    assert enum_of(document, status) == {s.value for s in Status}


async def test_the_create_order_body_documents_its_required_camel_case_fields(document):
    body = document["paths"]["/api/orders/"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    schema = follow(document, body)

    assert {"customerName", "customerPhone", "items"} <= set(schema["required"])
    assert "orderReference" in schema["properties"]
