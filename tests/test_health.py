"""GET /health (CONTRACT §2): ok when the database answers and its schema is not behind the code
(a newer one, during a rolling deploy, is fine); 503 otherwise."""
import sqlite3

from core.migrate import upgrade
from core.settings import Settings
from webhooks.app import create_app


async def test_health_is_ok_when_the_database_answers(client):
    response = await client.get("/health")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_health_is_503_when_the_database_does_not_answer(aiohttp_client):
    nobody_listens = "postgresql+asyncpg://postgres@127.0.0.1:1/orderdesk"
    client = await aiohttp_client(create_app(Settings(_env_file=None, database_url=nobody_listens)))

    response = await client.get("/health")

    assert response.status == 503
    assert (await response.json())["status"] != "ok"


async def _app_on(aiohttp_client, url: str):
    return await aiohttp_client(create_app(Settings(_env_file=None, database_url=url)))


async def test_health_is_503_on_a_database_never_migrated(aiohttp_client, tmp_path):
    client = await _app_on(aiohttp_client, f"sqlite:///{tmp_path / 'empty.db'}")

    response = await client.get("/health")

    assert (response.status, await response.json()) == (503, {"status": "unavailable"})


async def test_health_is_503_on_a_schema_behind_the_code(aiohttp_client, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")  # the release step of this code has not run yet
    client = await _app_on(aiohttp_client, url)

    response = await client.get("/health")

    assert (response.status, await response.json()) == (503, {"status": "schema-behind"})


async def test_health_is_ok_on_a_schema_ahead_of_the_code(aiohttp_client, tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    upgrade(url)
    with sqlite3.connect(tmp_path / "new.db") as db:  # as the next release's `db upgrade` leaves it
        db.execute("UPDATE alembic_version SET version_num = '9999_next_release'")
    client = await _app_on(aiohttp_client, url)

    response = await client.get("/health")

    assert (response.status, await response.json()) == (200, {"status": "ok"})


async def test_an_api_call_while_the_database_does_not_answer_is_503_saying_so(aiohttp_client):
    nobody_listens = "postgresql+asyncpg://postgres@127.0.0.1:1/orderdesk"
    client = await aiohttp_client(create_app(Settings(_env_file=None, database_url=nobody_listens)))

    response = await client.get("/api/products/")

    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert (await response.json())["type"].endswith("unavailable")
