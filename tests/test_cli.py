"""The real `orderdesk` console script (CONTRACT §1), run as a process against a SQLite file."""
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.catalog import DEMO_CATALOG
from core.settings import Settings
from tests.live_server import free_port
from webhooks.app import create_app

ORDERDESK = Path(sys.executable).with_name("orderdesk")


@pytest.fixture
def database(tmp_path, sqlite_template) -> str:
    """A migrated SQLite file of the test's own."""
    path = tmp_path / "shop.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def orderdesk(database: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "DEFAULT_REGION": "KE"}
    return subprocess.run([str(ORDERDESK), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


async def orderdesk_async(database: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command while the app serves in this event loop: waiting on a thread keeps the loop (and the
    app's own transactions) moving, as a server process would while someone runs the command."""
    return await asyncio.to_thread(orderdesk, database, *args, cwd=cwd)


def created_token(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


@pytest.fixture
async def api(aiohttp_client, database):
    """The app served over the same database file the commands write."""
    return await aiohttp_client(create_app(Settings(_env_file=None, database_url=database)))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_token_create_prints_the_token_alone_on_the_last_line(database, tmp_path):
    result = orderdesk(database, "token", "create", "--role", "admin", "--name", "owner", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_\-]{20,}", last), result.stdout


def test_two_tokens_created_are_different(database, tmp_path):
    first = created_token(orderdesk(database, "token", "create", "--role", "staff", "--name", "till-1", cwd=tmp_path))

    second = created_token(orderdesk(database, "token", "create", "--role", "staff", "--name", "till-2", cwd=tmp_path))

    assert first != second


async def test_a_created_admin_token_works_against_the_api(database, tmp_path, api):
    token = created_token(await orderdesk_async(database, "token", "create", "--role", "admin", "--name", "owner",
                                                cwd=tmp_path))

    response = await api.get("/api/orders/", headers=bearer(token))

    assert response.status == 200, await response.text()


async def test_a_created_customer_token_sees_the_orders_of_its_phone(database, tmp_path, api):
    await orderdesk_async(database, "seed-demo", cwd=tmp_path)
    shirt = DEMO_CATALOG[0]
    for phone in ("+254712345678", "+254722000111"):
        placed = await api.post("/api/orders/", json={"customerName": "A", "customerPhone": phone,
                                                      "items": [{"productId": shirt["id"], "quantity": 1}]})
        assert placed.status == 201, await placed.text()
    token = created_token(await orderdesk_async(database, "token", "create", "--role", "customer", "--name", "amina",
                                                "--phone", "0712 345 678", cwd=tmp_path))

    response = await api.get("/api/orders/my-orders/", headers=bearer(token))

    assert response.status == 200, await response.text()
    page = await response.json()
    assert [o["customerPhone"] for o in page["results"]] == ["+254712345678"]


def test_a_customer_token_without_a_phone_is_refused_with_a_reason(database, tmp_path):
    result = orderdesk(database, "token", "create", "--role", "customer", "--name", "amina", cwd=tmp_path)

    assert result.returncode != 0
    assert "phone" in result.stderr


async def test_token_revoke_makes_the_token_401(database, tmp_path, api):
    token = created_token(await orderdesk_async(database, "token", "create", "--role", "staff", "--name", "till",
                                                cwd=tmp_path))

    result = await orderdesk_async(database, "token", "revoke", "till", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    response = await api.get("/api/orders/", headers=bearer(token))
    assert response.status == 401


def test_revoking_an_unknown_token_fails_with_a_reason(database, tmp_path):
    result = orderdesk(database, "token", "revoke", "nobody", cwd=tmp_path)

    assert result.returncode != 0
    assert "nobody" in result.stderr


async def test_seed_demo_loads_the_demo_catalog(database, tmp_path, api):
    result = await orderdesk_async(database, "seed-demo", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    catalog = await (await api.get("/api/products/")).json()
    assert sorted(p["barcode"] for p in catalog) == sorted(row["barcode"] for row in DEMO_CATALOG)


async def test_seed_demo_twice_changes_nothing_the_second_time(database, tmp_path, api):
    await orderdesk_async(database, "seed-demo", cwd=tmp_path)
    first = await (await api.get("/api/products/")).json()

    result = await orderdesk_async(database, "seed-demo", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert await (await api.get("/api/products/")).json() == first


def test_token_list_shows_live_tokens_but_never_a_token(database, tmp_path):
    secret = created_token(orderdesk(database, "token", "create", "--role", "admin", "--name", "owner", cwd=tmp_path))
    created_token(orderdesk(database, "token", "create", "--role", "customer", "--name", "amina",
                            "--phone", "0712 345 678", cwd=tmp_path))
    orderdesk(database, "token", "revoke", "owner", cwd=tmp_path)

    listed = orderdesk(database, "token", "list", cwd=tmp_path)

    assert listed.returncode == 0
    [line] = listed.stdout.splitlines()
    assert line.split()[:3] == ["amina", "customer", "+254712345678"] and secret not in listed.stdout


def test_chat_with_a_number_it_cannot_read_is_one_line(database, tmp_path):
    done = orderdesk(database, "chat", "--phone", "12", cwd=tmp_path)

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("--phone: '12' is not a phone number in region KE; write it with its country "
                                   "code, e.g. +254712345678")


def test_chat_with_no_server_is_one_line(database, tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"

    done = orderdesk(database, "chat", "--phone", "+254712345678", "--url", nobody, cwd=tmp_path)

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"no orderdesk server answers at {nobody}: start one with `orderdesk serve` "
                                   "(or give its --url)")


def test_chat_sends_a_location_pin_as_twilio_posts_one():
    from orderdesk.chat import form_for

    form = form_for(Settings(_env_file=None), "+254712345678", "/location -1.2921,36.8219 My shop, Moi Avenue, Nairobi")

    assert (form["Body"], form["Latitude"], form["Longitude"], form["Label"], form["Address"]) == \
        ("", "-1.2921", "36.8219", "My shop", "Moi Avenue, Nairobi")
