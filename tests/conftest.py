"""Shared fixtures: a real, migrated database per test (SQLite file, and PostgreSQL when enabled),
the real app served on loopback, and tokens."""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
import shutil
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.clock import FakeClock
from core.db import make_engine, make_sessionmaker
from core.migrate import upgrade
from core.models import Base
from core.settings import Settings
from core.tokens import Role, create_token
from core.uow import UnitOfWork
from webhooks.app import create_app

def run_blocking(coro):
    """Run a coroutine to completion from sync code, even while a test's loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


PG_URL = os.environ.get("ORDERDESK_TEST_POSTGRES_URL")
PG_HINT = ("PostgreSQL tests are off: set ORDERDESK_TEST_POSTGRES_URL="
           "postgresql+asyncpg://postgres@127.0.0.1:5432/test to run them (.ci/run does)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """One migrated SQLite file; each test gets a copy (faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A database of its own for this test run, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip(PG_HINT)
    admin_url = make_url(PG_URL)
    name = f"orderdesk_test_{uuid.uuid4().hex[:10]}"

    async def ddl(statement: str) -> None:
        engine = make_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    run_blocking(ddl(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    run_blocking(ddl(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """Every database-facing test runs on a clean SQLite file and on a clean PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "orderdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    run_blocking(_truncate(url))
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return Settings(_env_file=None, database_url=db_url, default_region="KE", admin_phones=["+254700000001"],
                    twilio_account_sid=None, twilio_auth_token=None, media_dir=str(tmp_path / "media"))


@pytest.fixture
async def uow(settings, clock):
    """A unit of work on the test's database, sharing the app's clock and message texts."""
    from bot import replies

    engine = make_engine(settings.database_url)
    yield UnitOfWork(make_sessionmaker(engine), settings, clock, render=replies.render)
    await engine.dispose()


@pytest.fixture
async def client(aiohttp_client, settings, clock):
    """The real app on a loopback port: requests cross real HTTP."""
    return await aiohttp_client(create_app(settings, clock=clock))


async def _token(uow, role: Role, name: str, phone: str | None = None) -> str:
    async with uow() as tx:
        secret = await create_token(tx, name=name, role=role, phone=phone)
        await tx.commit()
    return secret


@pytest.fixture
async def admin(uow) -> dict:
    return {"Authorization": f"Bearer {await _token(uow, Role.ADMIN, 'admin')}"}


@pytest.fixture
async def staff(uow) -> dict:
    return {"Authorization": f"Bearer {await _token(uow, Role.STAFF, 'staff')}"}


@pytest.fixture
async def customer(uow) -> dict:
    return {"Authorization": f"Bearer {await _token(uow, Role.CUSTOMER, 'amina', '+254712345678')}"}


# --- WhatsApp: the app with Twilio credentials, talking to a loopback fake of Twilio -----------

PUBLIC_BASE_URL = "https://shop.example.com"  # as behind a proxy: the app sees another host and scheme
ADMIN_PHONE = "+254700000001"
CUSTOMER_PHONE = "+254712345678"


@pytest.fixture
async def twilio():
    from tests.fake_twilio import FakeTwilio

    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def admins() -> list[str]:
    """ADMIN_PHONES for the WhatsApp app; a module overrides this fixture to have more."""
    return [ADMIN_PHONE]


@pytest.fixture
def wa_settings(settings, twilio, admins) -> Settings:
    return settings.model_copy(update={
        "twilio_account_sid": twilio.account_sid, "twilio_auth_token": twilio.auth_token,
        "twilio_api_base_url": twilio.base_url, "public_base_url": PUBLIC_BASE_URL,
        "admin_phones": admins})


@pytest.fixture
async def wa(aiohttp_client, wa_settings, twilio, clock, uow):
    """The app wired to the fake Twilio, with fast retries; `wa.say(...)` signs like Twilio.
    Given: the admins wrote to the shop's number today, so their 24-hour windows are open."""
    from datetime import timedelta

    from webhooks.delivery import Policy

    app = create_app(wa_settings, policy=Policy(backoff_first=timedelta(milliseconds=50),
                                                backoff_cap=timedelta(milliseconds=200)),
                     sweep_seconds=0.1, clock=clock)
    client = await aiohttp_client(app)
    await open_windows(uow, wa_settings.admin_phones)
    return WhatsApp(client, twilio)


async def open_windows(uow, phones) -> None:
    """As if each of `phones` had just written to the shop (WhatsApp's 24-hour window is open)."""
    from core import customers

    async with uow() as tx:
        for phone in phones:
            await customers.touch(tx, phone)
        await tx.commit()


async def answered(client) -> None:
    """Until the app has answered every inbound message it stored (its responder is idle)."""
    from webhooks import keys

    await asyncio.wait_for(client.app[keys.RESPONDER].drained(), timeout=10)


class WhatsApp:
    def __init__(self, client, twilio) -> None:
        self.client, self.twilio = client, twilio

    async def post_form(self, path: str, form: dict, *, signature: str | None = None, signed_url: str | None = None):
        from tests.fake_twilio import sign

        url = signed_url or PUBLIC_BASE_URL + path
        headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, form, self.twilio.auth_token)}
        response = await self.client.post(path, data=form, headers=headers)
        await answered(self.client)  # the webhook answers Twilio first; the turn runs just after
        return response

    async def say(self, body: str = "", *, phone: str = CUSTOMER_PHONE, **options):
        """A customer's WhatsApp message, signed, as Twilio would post it. Returns (response, form)."""
        form = self.twilio.inbound_form(phone, body, **options)
        response = await self.post_form("/webhooks/twilio/whatsapp", form)
        assert response.status == 200, await response.text()
        return form

    async def replies_to(self, phone: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        messages = await self.twilio.wait_for_messages(count, to=phone, timeout=timeout)
        return [m["Body"] for m in messages]
