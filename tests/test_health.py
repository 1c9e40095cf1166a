"""GET /health (CONTRACT §2): ok when the database answers, 503 otherwise."""
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
