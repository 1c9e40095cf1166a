"""Schema fuzzing (issue 8): schemathesis against the real served process and its own
/api/openapi.json: no 5xx, and every response conforms to the document (status code, content type,
body schema). Bounded in examples so it fits `make test`; widen it locally with
ORDERDESK_FUZZ_EXAMPLES=200 (and another ORDERDESK_FUZZ_SEED) when hunting.

The server starts with the demo catalog, a few orders in several statuses, an admin token (sent on
every request) and a customer token (for my-orders), and schemathesis is told those ids, so the
fuzzing reaches the order logic instead of bouncing off 404s."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.live_server import LiveServer

EXAMPLES = int(os.environ.get("ORDERDESK_FUZZ_EXAMPLES", "50"))
TIME_LIMIT = 240  # seconds; the default run takes about 20 s on 2 cores
SEED = int(os.environ.get("ORDERDESK_FUZZ_SEED", "8"))
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance"]
CUSTOMER_PHONE = "+254712345678"


def place_orders(api: LiveServer, products: list[dict]) -> list[dict]:
    """Four orders: one left pending, one confirmed, one shipped, one cancelled."""
    placed = []
    for i, product in enumerate(products[:4]):
        status, _, order = api.request("POST", "/api/orders/", {
            "customerName": f"Fuzz Customer {i}", "customerPhone": CUSTOMER_PHONE,
            "items": [{"productId": product["id"], "quantity": 1}]})
        assert status == 201, order
        placed.append(order)
    for order, path, body in ((placed[1], "confirm/", {}), (placed[2], "confirm/", {}),
                              (placed[3], "cancel/", {"reason": "fuzz"})):
        status, _, answer = api.request("POST", f"/api/orders/{order['id']}/{path}", body, admin=True)
        assert status == 200, answer
    status, _, answer = api.request("PATCH", f"/api/orders/{placed[2]['id']}/", {"status": "shipped"}, admin=True)
    assert status == 200, answer
    return placed


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def config(admin_token: str, customer_token: str, product_ids: list[str], orders: list[dict]) -> str:
    order_ids = [o["id"] for o in orders] + [o["orderReference"] for o in orders]
    return f"""\
headers = {{ Authorization = "Bearer {admin_token}" }}

[dictionaries.order_ids]
values = {toml_list(order_ids)}

[dictionaries.product_ids]
values = {toml_list(product_ids)}

[dictionaries.phones]
values = {toml_list([CUSTOMER_PHONE, "0712 345 678", "+254 700 000 002"])}

[[operations]]
include-path-regex = '^/api/orders/\\{{id\\}}/'
parameters = {{ "path.id" = {{ dictionary = "order_ids", probability = 0.8 }} }}

[[operations]]
include-path-regex = '^/api/products/\\{{id\\}}/'
parameters = {{ "path.id" = {{ dictionary = "product_ids", probability = 0.8 }} }}

[[operations]]
include-path = "/api/orders/"
include-method = "POST"
parameters = {{ "body.items[*].productId" = {{ dictionary = "product_ids", probability = 0.8 }}, "body.customerPhone" = {{ dictionary = "phones", probability = 0.7 }} }}

[[operations]]
include-path = "/api/orders/my-orders/"
headers = {{ Authorization = "Bearer {customer_token}" }}
"""


def figures(report: dict) -> str:
    cases = report["test_cases"]
    operations = report.get("operations", {})
    tested = operations.get("tested", operations.get("selected", "?")) if isinstance(operations, dict) else operations
    failures = sum(f.get("count", 1) for f in report.get("failures", []))
    return (f"schemathesis {report['schemathesis_version']}: {tested} operations, {cases['generated']} test cases "
            f"(max {EXAMPLES} examples per operation per phase, seed {SEED}), {failures} failures, "
            f"{len(report.get('errors', []))} errors, {report['running_time']:.1f} s")


def test_the_live_api_conforms_to_its_openapi_document_under_fuzzing(tmp_path, record_property):
    (tmp_path / "server").mkdir()
    with LiveServer(tmp_path / "server") as api:
        customer_token = api.cli("token", "create", "--role", "customer", "--name", "fuzz-customer",
                                 "--phone", CUSTOMER_PHONE).strip().splitlines()[-1]
        products = api.get("/api/products/")[2]
        orders = place_orders(api, products)
        config_file = tmp_path / "schemathesis.toml"
        config_file.write_text(config(api.admin_token, customer_token, [p["id"] for p in products], orders))
        command = [Path(sys.executable).with_name("schemathesis"), "--config-file", config_file, "run",
                   f"{api.url}/api/openapi.json", "--checks", ",".join(CHECKS), "--max-examples", EXAMPLES,
                   "--seed", SEED, "--workers", 2, "--request-timeout", 10, "--generation-database", "none",
                   "--no-color", "--report", "json", "--report-json-path", tmp_path / "report.json"]
        try:
            done = subprocess.run([str(c) for c in command], cwd=tmp_path, capture_output=True, text=True,
                                  timeout=TIME_LIMIT, env={**os.environ, "COLUMNS": "120"})
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"schemathesis ran over {TIME_LIMIT} s:\n{exc.stdout}") from None
        server_log = api.log()
    output = done.stdout + done.stderr
    assert (tmp_path / "report.json").exists(), f"schemathesis did not run:\n{output}"
    report = json.loads((tmp_path / "report.json").read_text())
    summary = figures(report)
    record_property("schemathesis", summary)
    print(summary, output, sep="\n")

    assert report["complete"], f"{summary}\n{output}"
    assert not report["failures"] and not report["errors"] and done.returncode == 0, \
        f"{summary}\n{output}\nserver log (tail):\n{server_log[-4000:]}"
    assert "unhandled error" not in server_log, server_log[-4000:]  # problems.py logs every 500 so
