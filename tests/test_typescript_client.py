"""The TypeScript client (clients/typescript): its types are what the served OpenAPI document says
(drift check), it type-checks, and a wrong order status is a compile error, not a runtime surprise."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from core.settings import Settings
from tests.node_tools import CLIENT_DIR, npm_ci
from webhooks.app import create_app

sys.path.insert(0, str(CLIENT_DIR.parents[1] / "scripts"))
from openapi_dump import render  # noqa: E402  the committed form of the document

REGENERATE = "run `make client` and commit clients/typescript/openapi.json and src/schema.d.ts"


@pytest.fixture(scope="module")
def node_bin():
    return npm_ci(CLIENT_DIR)


def run(command: list, cwd=CLIENT_DIR, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
async def served_document(aiohttp_client, tmp_path, sqlite_template) -> str:
    """GET /api/openapi.json from the real app, rendered as the committed file is."""
    path = tmp_path / "orderdesk.db"
    shutil.copy(sqlite_template, path)
    client = await aiohttp_client(create_app(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{path}")))
    response = await client.get("/api/openapi.json")
    assert response.status == 200, await response.text()
    return render(await response.json())


async def test_the_committed_openapi_document_is_the_served_one(served_document):
    committed = (CLIENT_DIR / "openapi.json").read_text(encoding="utf-8")

    assert json.loads(committed) == json.loads(served_document), f"the API changed: {REGENERATE}"
    assert committed == served_document, f"clients/typescript/openapi.json is not in its generated form: {REGENERATE}"


async def test_the_committed_types_are_what_openapi_typescript_generates_from_the_served_document(
        served_document, node_bin, tmp_path):
    source, generated = tmp_path / "openapi.json", tmp_path / "schema.d.ts"
    source.write_text(served_document, encoding="utf-8")
    # The same options as `npm run generate` (package.json), which `make client` runs.
    options = json.loads((CLIENT_DIR / "package.json").read_text())["scripts"]["generate"].split()[2:-2]

    done = run([node_bin / "openapi-typescript", source, *options, "--output", generated])

    assert done.returncode == 0, done.stderr
    assert generated.read_text() == (CLIENT_DIR / "src" / "schema.d.ts").read_text(), \
        f"clients/typescript/src/schema.d.ts is stale: {REGENERATE}"


def test_the_client_and_its_example_type_check_under_strict(node_bin):
    done = run([node_bin / "tsc", "--noEmit", "--pretty", "false", "-p", CLIENT_DIR / "tsconfig.json"])

    assert done.returncode == 0, done.stdout + done.stderr


BAD_SNIPPET = """\
import { createOrderDeskClient } from "%(client)s";

const admin = createOrderDeskClient({ baseUrl: "http://127.0.0.1:8080", token: "t" });
export const typo = admin.updateOrderStatus("LEG-1738704998-X7K2", "sent");
export const shouting = admin.http.PATCH("/api/orders/{id}/", {
  params: { path: { id: "LEG-1738704998-X7K2" } },
  body: { status: "SHIPPED" },
});
export const filter = admin.getOrders({ status: "paid" });
"""


def test_a_wrong_order_status_does_not_compile(node_bin, tmp_path):
    (tmp_path / "bad.ts").write_text(BAD_SNIPPET % {"client": (CLIENT_DIR / "src" / "client").as_posix()})
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "extends": (CLIENT_DIR / "tsconfig.json").as_posix(), "compilerOptions": {"noEmit": True},
        "include": [], "files": ["bad.ts"]}))

    done = run([node_bin / "tsc", "--pretty", "false", "-p", tmp_path / "tsconfig.json"])

    errors = [line for line in done.stdout.splitlines() if ": error TS" in line]
    assert done.returncode != 0, "tsc accepted a status outside the enum"
    assert len(errors) == 3, done.stdout
    assert "bad.ts(4," in errors[0] and """Argument of type '"sent"' is not assignable""" in errors[0]
    assert "bad.ts(7," in errors[1] and """Type '"SHIPPED"' is not assignable""" in errors[1]
    assert "bad.ts(9," in errors[2] and """Type '"paid"' is not assignable""" in errors[2]
    statuses = '"pending" | "confirmed" | "processing" | "shipped" | "delivered" | "cancelled"'
    assert all(statuses in e for e in errors), errors
