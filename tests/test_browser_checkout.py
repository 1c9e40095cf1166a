"""A real browser against the real server: a storefront page served from another loopback origin
checks out two demo products through the TypeScript client (CORS allowed), and the same page served
from an origin not in CORS_ALLOWED_ORIGINS gets nothing from the API (CONTRACT §1, §2; issue 8). The
old storefront's admin orders page, on API_COMPAT=drf, signs in, confirms an order and outlives its
access token by refreshing it (CONTRACT §2 Accounts; issue 15).

Debian's Chromium, headless, driven by playwright-core (tests/browser/checkout.mjs); installed by
`make test-deps`, or here when missing and we are root."""
from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.live_server import LiveServer
from tests.node_tools import BROWSER_DIR, CLIENT_DIR, chromium, npm_ci, require

REFERENCE_PREFIX = "LEG-"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(tmp_path):
    """The storefront with the client compiled from clients/typescript/src/client.ts and openapi-fetch beside it."""
    site = tmp_path / "site"
    shutil.copytree(BROWSER_DIR / "storefront", site)
    node_bin = npm_ci(CLIENT_DIR)
    config = tmp_path / "tsconfig.build.json"
    config.write_text(json.dumps({
        "extends": (CLIENT_DIR / "tsconfig.json").as_posix(),
        "compilerOptions": {"noEmit": False, "declaration": False, "outDir": site.as_posix(),
                            "rootDir": (CLIENT_DIR / "src").as_posix()},
        "include": [], "files": [(CLIENT_DIR / "src" / "client.ts").as_posix()]}))
    done = subprocess.run([node_bin / "tsc", "--pretty", "false", "-p", config], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (site / "vendor").mkdir()
    shutil.copy(CLIENT_DIR / "node_modules" / "openapi-fetch" / "dist" / "index.mjs", site / "vendor" / "openapi-fetch.js")
    return site


@pytest.fixture
def origins(site):
    """Two loopback origins serving the same storefront: [allowed, denied]."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
               for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_storefront_on_an_allowed_origin_checks_out_and_a_disallowed_origin_is_refused(tmp_path, origins):
    browser = chromium()
    node_bin = npm_ci(BROWSER_DIR)
    allowed, denied = origins
    (tmp_path / "server").mkdir()
    (tmp_path / "profile").mkdir()
    with LiveServer(tmp_path / "server", CORS_ALLOWED_ORIGINS=f"{allowed},https://shop.example.com") as api:
        options = {"chromium": str(browser), "userDataDir": str(tmp_path / "profile"),
                   "allowedUrl": f"{allowed}/index.html?api={api.url}", "deniedUrl": f"{denied}/index.html?api={api.url}",
                   "screenshotDir": str(tmp_path)}
        done = subprocess.run([require("node"), BROWSER_DIR / "checkout.mjs", json.dumps(options)],
                              cwd=node_bin.parents[1], capture_output=True, text=True, timeout=180)
        _, _, orders = api.get("/api/orders/", admin=True)
        server_log = api.log()
    assert done.returncode == 0, f"the browser run failed:\n{done.stdout}\n{done.stderr}\nserver log:\n{server_log}"
    run = json.loads(done.stdout.strip().splitlines()[-1])
    seen = f"\nbrowser run: {json.dumps(run, indent=1)}\nscreenshots in {tmp_path}"

    # The allowed origin: the catalog loaded, two products went in the cart, the order was placed.
    page = run["allowed"]
    assert page["state"] == "ordered", f"checkout from {allowed} did not go through" + seen
    assert len(set(page["added"])) == 2 and page["cartCount"] == "2", seen
    order = page["order"]
    reference = order["orderReference"]
    assert reference.startswith(REFERENCE_PREFIX) and order["status"] == "pending", seen
    assert sorted(i["productId"] for i in order["items"]) == sorted(page["added"]), seen
    assert order["total"] == page["cartTotal"], seen

    # The page got a WhatsApp link that carries the reference, and shows it.
    url = urlsplit(page["whatsappHref"])
    assert (url.scheme, url.netloc) == ("https", "wa.me") and url.path.strip("/").isdigit(), seen
    assert reference in parse_qs(url.query)["text"][0], seen
    assert page["whatsappHref"] == order["whatsappUrl"] and reference in page["result"], seen

    # The order exists in the API, exactly once: the denied page created nothing.
    assert orders["count"] == 1, f"expected only the allowed origin's order, got {orders}" + seen
    stored = orders["results"][0]
    assert stored["orderReference"] == reference and stored["id"] == order["id"], seen
    assert sorted(i["productId"] for i in stored["items"]) == sorted(page["added"]), seen

    # The disallowed origin: the browser refuses every answer (no Access-Control-Allow-Origin for it).
    refused = run["denied"]
    assert refused["state"] == "error" and refused["error"] == "TypeError: Failed to fetch", seen
    assert refused["checkoutError"] == "TypeError: Failed to fetch", seen
    assert any("Access-Control-Allow-Origin" in line for line in run["console"] if line.startswith("denied")), seen


ADMIN_PASSWORD = "a long admin password"
ACCESS_LIFETIME_S = 2  # the issue's: long enough to sign in and confirm, short enough to wait out


def test_the_admin_orders_page_signs_in_confirms_and_outlives_its_access_token(tmp_path, origins):
    browser = chromium()
    node_bin = npm_ci(BROWSER_DIR)
    page_origin = origins[0]
    (tmp_path / "server").mkdir()
    (tmp_path / "profile").mkdir()
    with LiveServer(tmp_path / "server", CORS_ALLOWED_ORIGINS=page_origin, API_COMPAT="drf",
                    ACCESS_TOKEN_LIFETIME=f"{ACCESS_LIFETIME_S}s") as api:
        api.cli("user", "create", "--username", "wanjiku", "--role", "admin", "--password-stdin",
                stdin=ADMIN_PASSWORD + "\n")
        _, _, products = api.get("/api/products/")
        product = next(p for p in products if p["quantity"] >= 2)
        status, _, placed = api.request("POST", "/api/orders/", {
            "customer_name": "Amina Otieno", "customer_phone": "+254712345678",
            "items": [{"product": product["id"], "quantity": 2}]})
        assert status == 201, placed
        options = {"chromium": str(browser), "userDataDir": str(tmp_path / "profile"),
                   "url": f"{page_origin}/admin.html?api={api.url}", "username": "wanjiku",
                   "password": ADMIN_PASSWORD, "productId": product["id"], "waitMs": (ACCESS_LIFETIME_S + 1) * 1000,
                   "screenshotDir": str(tmp_path)}
        done = subprocess.run([require("node"), BROWSER_DIR / "admin.mjs", json.dumps(options)],
                              cwd=node_bin.parents[1], capture_output=True, text=True, timeout=180)
        _, _, stored = api.get(f"/api/orders/{placed['id']}/", admin=True)
        server_log = api.log()
    assert done.returncode == 0, f"the browser run failed:\n{done.stdout}\n{done.stderr}\nserver log:\n{server_log}"
    run = json.loads(done.stdout.strip().splitlines()[-1])
    seen = f"\nbrowser run: {json.dumps(run, indent=1)}\nscreenshots in {tmp_path}"

    # Signed in through /api/token/ as the admin; the list came with the access token.
    signed_in = run["signedIn"]
    assert signed_in["state"] == "listed" and signed_in["user"]["role"] == "admin", seen
    assert [o["reference"] for o in signed_in["orders"]] == [placed["order_reference"]], seen
    assert signed_in["total"] == "1" and signed_in["orders"][0]["user"] is None, seen

    # Confirm Order & Reduce Stock: the order is confirmed and the stock fell by its quantity.
    confirmed = run["confirmed"]
    assert confirmed["confirmed"]["success"] is True and confirmed["confirmed"]["stock_updated"] is True, seen
    assert run["stockAfter"] == run["stockBefore"] - 2 == product["quantity"] - 2, seen
    assert stored["status"] == "confirmed", seen

    # After the access token's lifetime: the list call got a 401, the page refreshed, and the list came.
    after = run["afterExpiry"]
    assert after["state"] == "listed" and after["error"] is None, seen
    assert after["refreshes"] == confirmed["refreshes"] + 1, seen
    assert [o["status"] for o in after["orders"]] == ["confirmed"], seen
    tail = run["requests"][-3:]
    assert tail == ["GET /api/orders/ 401", "POST /api/token/refresh/ 200", "GET /api/orders/ 200"], seen
