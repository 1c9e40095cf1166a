"""CORS (CONTRACT §1, CORS_ALLOWED_ORIGINS): a browser storefront on another origin may call the API,
and nothing else may: not other origins, not the Twilio webhooks, not anyone when the setting is empty."""
import pytest

from tests.databases import sqlite_only
from webhooks.app import create_app

STOREFRONT = "https://shop.example.com"
STRANGER = "https://evil.example.net"
ALLOW_ORIGIN = "Access-Control-Allow-Origin"

# What headers mean here does not depend on the database.
pytestmark = sqlite_only


@pytest.fixture
async def api(aiohttp_client, settings):
    """The app with the storefront's origin allowed (written with a trailing slash, as people do)."""
    allowed = settings.model_copy(update={"cors_allowed_origins": [STOREFRONT + "/", "http://127.0.0.1:3000"],
                                          "api_compat": "drf"})
    return await aiohttp_client(create_app(allowed))


def preflight(origin: str, method: str, headers: str = "") -> dict:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        out["Access-Control-Request-Headers"] = headers
    return out


@pytest.mark.parametrize("method, path, headers", [
    ("POST", "/api/orders/", "content-type"),
    ("GET", "/api/orders/", "authorization"),
    ("PATCH", "/api/orders/LEG-1738704998-X7K2/", "authorization, content-type"),
    ("POST", "/api/orders/LEG-1738704998-X7K2/confirm/", "Authorization"),
    ("GET", "/api/products", ""),
    ("POST", "/api/products/", "Authorization, Content-Type"),
])
async def test_a_preflight_from_the_storefront_is_answered_with_what_it_asked(api, method, path, headers):
    response = await api.options(path, headers=preflight(STOREFRONT, method, headers))

    assert response.status == 200, await response.text()
    assert response.headers[ALLOW_ORIGIN] == STOREFRONT
    assert method in response.headers["Access-Control-Allow-Methods"]
    asked = {h.strip().lower() for h in headers.split(",") if h.strip()}
    assert asked <= {h.strip().lower() for h in response.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_a_second_allowed_origin_is_allowed_too(api):
    response = await api.options("/api/orders/", headers=preflight("http://127.0.0.1:3000", "POST", "content-type"))

    assert response.headers[ALLOW_ORIGIN] == "http://127.0.0.1:3000"


@pytest.mark.parametrize("method, path", [("DELETE", "/api/orders/"), ("PUT", "/api/products/1/"),
                                          ("POST", "/api/products/1/")])
async def test_a_preflight_for_a_method_the_route_does_not_serve_is_refused(api, method, path):
    response = await api.options(path, headers=preflight(STOREFRONT, method))

    assert response.status == 403
    assert ALLOW_ORIGIN not in response.headers


async def test_a_preflight_asking_for_another_header_is_refused(api):
    response = await api.options("/api/orders/", headers=preflight(STOREFRONT, "POST", "content-type, x-debug"))

    assert response.status == 403
    assert ALLOW_ORIGIN not in response.headers


async def test_the_storefront_can_read_the_answer_and_the_total_count(api):
    response = await api.get("/api/products/", headers={"Origin": STOREFRONT})

    assert response.status == 200
    assert response.headers[ALLOW_ORIGIN] == STOREFRONT
    assert "X-Total-Count" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["X-Total-Count"] == "0"


async def test_the_storefront_can_read_how_long_a_locked_sign_in_waits(api):
    response = await api.get("/api/products/", headers={"Origin": STOREFRONT})

    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


async def test_the_storefront_can_read_a_problem_too(api):
    response = await api.get("/api/orders/", headers={"Origin": STOREFRONT})

    assert response.status == 401
    assert response.headers[ALLOW_ORIGIN] == STOREFRONT


async def test_another_origin_gets_no_cors_headers_on_a_preflight(api):
    response = await api.options("/api/orders/", headers=preflight(STRANGER, "POST", "content-type"))

    assert response.status == 403
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_another_origin_gets_no_cors_headers_on_a_request(api):
    response = await api.get("/api/products/", headers={"Origin": STRANGER})

    assert response.status == 200  # the server answers; the browser keeps it from the page
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("path", ["/webhooks/twilio/whatsapp", "/webhooks/twilio/status"])
async def test_the_webhooks_get_no_preflight_answer(api, path):
    response = await api.options(path, headers=preflight(STOREFRONT, "POST", "content-type"))

    assert ALLOW_ORIGIN not in response.headers
    assert response.status in (403, 404, 405)


async def test_the_webhooks_get_no_cors_headers_on_a_post(api):
    response = await api.post("/webhooks/twilio/whatsapp", headers={"Origin": STOREFRONT},
                              data={"MessageSid": "SM1", "From": "whatsapp:+254712345678", "Body": "hi"})

    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_health_is_not_opened_to_other_origins(api):
    response = await api.get("/health", headers={"Origin": STOREFRONT})

    assert ALLOW_ORIGIN not in response.headers


async def test_with_the_setting_empty_no_origin_gets_cross_origin_access(client):
    asked = await client.options("/api/orders/", headers=preflight(STOREFRONT, "POST", "content-type"))
    read = await client.get("/api/products/", headers={"Origin": STOREFRONT})

    assert ALLOW_ORIGIN not in asked.headers and asked.status >= 400
    assert not [h for h in read.headers if h.lower().startswith("access-control-")]


async def test_the_setting_is_read_from_the_environment_as_a_comma_separated_list(aiohttp_client, settings,
                                                                                    monkeypatch):
    from core.settings import Settings

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, http://127.0.0.1:3000,")
    app = await aiohttp_client(create_app(Settings(_env_file=None, database_url=settings.database_url)))

    for origin in ("https://a.example", "http://127.0.0.1:3000"):
        response = await app.options("/api/orders/", headers=preflight(origin, "POST", "content-type"))
        assert response.headers.get(ALLOW_ORIGIN) == origin
