"""`orderdesk db upgrade` (CONTRACT §1): safe to run twice, and it builds exactly the schema the models describe."""
import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from core import views
from core.clock import FakeClock
from core.db import make_engine, make_sessionmaker
from core.migrate import alembic_config, include_name, upgrade
from core.models import Base
from core.settings import Settings
from core.uow import UnitOfWork
from tests.conftest import PG_HINT, PG_URL, run_blocking

ORDERDESK = Path(sys.executable).with_name("orderdesk")


async def _autocommit(url: str, statement: str) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path) -> str:
    """A database nobody has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    if not PG_URL:
        pytest.skip(PG_HINT)
    server = make_url(PG_URL)
    name = f"orderdesk_fresh_{uuid.uuid4().hex[:10]}"
    run_blocking(_autocommit(PG_URL, f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    run_blocking(_autocommit(PG_URL, f'DROP DATABASE "{name}" WITH (FORCE)'))


def db_upgrade(url: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ORDERDESK), "db", "upgrade"], env={**os.environ, "DATABASE_URL": url}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _inspect(url: str, look):
    async def go():
        engine = make_engine(url)
        async with engine.connect() as conn:
            result = await conn.run_sync(look)
        await engine.dispose()
        return result

    return asyncio.run(go())


def tables(url: str) -> set[str]:
    return _inspect(url, lambda conn: set(inspect(conn).get_table_names()))


def schema_differences(url: str) -> list:
    def compare(conn):
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return compare_metadata(context, Base.metadata)

    return _inspect(url, compare)


def test_db_upgrade_creates_every_table_on_an_empty_database(empty_database, tmp_path):
    result = db_upgrade(empty_database, tmp_path)

    assert result.returncode == 0, result.stderr
    assert {t.name for t in Base.metadata.sorted_tables} <= tables(empty_database)


def test_db_upgrade_twice_is_safe(empty_database, tmp_path):
    first = db_upgrade(empty_database, tmp_path)

    second = db_upgrade(empty_database, tmp_path)

    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert {t.name for t in Base.metadata.sorted_tables} <= tables(empty_database)


def test_db_upgrade_keeps_the_data_already_there(empty_database, tmp_path):
    upgrade(empty_database)
    seeded = subprocess.run([str(ORDERDESK), "seed-demo"], env={**os.environ, "DATABASE_URL": empty_database},
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert seeded.returncode == 0, seeded.stderr

    result = db_upgrade(empty_database, tmp_path)

    assert result.returncode == 0, result.stderr
    count = _inspect(empty_database, lambda conn: conn.execute(text("SELECT count(*) FROM products")).scalar())
    assert count > 0


def test_the_migrated_schema_matches_the_models(empty_database):
    upgrade(empty_database)

    differences = schema_differences(empty_database)

    assert differences == [], differences


def test_db_upgrade_stops_saying_what_to_do_when_pg_trgm_cannot_be_created(tmp_path):
    """Given a database user that may create tables but not extensions (no CREATE on the database)."""
    if not PG_URL:
        pytest.skip(PG_HINT)
    suffix = uuid.uuid4().hex[:10]
    name, role = f"orderdesk_notrgm_{suffix}", f"orderdesk_notrgm_{suffix}"
    run_blocking(_autocommit(PG_URL, f'CREATE ROLE "{role}" LOGIN'))
    run_blocking(_autocommit(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        server = make_url(PG_URL)
        run_blocking(_autocommit(server.set(database=name).render_as_string(hide_password=False),
                                 f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
        as_role = server.set(database=name, username=role, password=None).render_as_string(hide_password=False)

        result = db_upgrade(as_role, tmp_path)

        assert result.returncode == 1
        assert "pg_trgm" in result.stderr and "CREATE EXTENSION pg_trgm" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        run_blocking(_autocommit(PG_URL, f'DROP DATABASE "{name}" WITH (FORCE)'))
        run_blocking(_autocommit(PG_URL, f'DROP ROLE "{role}"'))



def _insert_order_at_0007(conn) -> None:
    conn.execute(text(
        "INSERT INTO orders (id, reference, customer_name, customer_phone, customer_address, notes, status, "
        "payment_status, total, item_count, content_hash, stock_taken, created_at, updated_at) VALUES "
        "('o-1', 'LEG-1795969230-ORER', 'Amina', '+254712345678', '', '', 'pending', 'unpaid', 150000, 1, 'h', "
        "false, '2026-11-29 19:00:00', '2026-11-29 19:00:00')"))
    conn.commit()


async def _found_as(url: str, typed: str) -> str | None:
    engine = make_engine(url)
    uow = UnitOfWork(make_sessionmaker(engine), Settings(_env_file=None, database_url=url), FakeClock())
    async with uow() as tx:
        found = await views.find(tx, typed)
    await engine.dispose()
    return found.reference if found else None


def test_orders_placed_before_0008_are_found_by_a_reference_typed_with_look_alikes(empty_database):
    upgrade(empty_database, "0007")
    _inspect(empty_database, _insert_order_at_0007)

    upgrade(empty_database)

    assert asyncio.run(_found_as(empty_database, "LEG-1795969230-0RER")) == "LEG-1795969230-ORER"


def _insert_orders(names: list[str]):
    def insert(conn) -> None:
        for name in names:
            conn.execute(text(
                "INSERT INTO orders (id, reference, customer_name, customer_phone, customer_address, notes, status, "
                "payment_status, total, item_count, content_hash, stock_taken, created_at, updated_at) VALUES "
                "(:name, 'LEG-1795969230-' || upper(substr(:name, 1, 4)), :name, '+254712345678', '', '', 'pending', "
                "'unpaid', 150000, 1, 'h', false, '2026-11-29 19:00:00', '2026-11-29 19:00:00')"), {"name": name})
        conn.commit()
    return insert


async def _searched(url: str, term: str) -> list[str]:
    engine = make_engine(url)
    uow = UnitOfWork(make_sessionmaker(engine), Settings(_env_file=None, database_url=url), FakeClock())
    async with uow(readonly=True) as tx:
        _count, page = await views.order_page(tx, search=term)
    await engine.dispose()
    return [order.customer_name for order in page]


def _in_the_fts_table(conn, term: str) -> int:
    return conn.execute(text("SELECT count(*) FROM orders_search WHERE orders_search MATCH :phrase"),
                        {"phrase": f'"{term}"'}).scalar()


def test_orders_placed_before_0015_are_found_and_a_downgrade_indexes_those_placed_after(tmp_path):
    """0015 stops indexing new orders inside their create (SQLite); the orders indexed by 0005's trigger
    stay in the index, and going back to 0014 indexes what the batches had not reached."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    upgrade(url, "0014")
    _inspect(url, _insert_orders(["wanjiru", "amina"]))

    upgrade(url)
    _inspect(url, _insert_orders(["otieno"]))

    assert _inspect(url, lambda conn: conn.execute(text("SELECT indexed_upto FROM orders_search_progress")).scalar()) == 2
    assert [asyncio.run(_searched(url, name)) for name in ("wanjiru", "amina", "otieno")] == [
        ["wanjiru"], ["amina"], ["otieno"]]
    assert _inspect(url, lambda conn: _in_the_fts_table(conn, "otieno")) == 0

    command.downgrade(alembic_config(url), "0014")

    assert _inspect(url, lambda conn: [_in_the_fts_table(conn, name) for name in ("wanjiru", "amina", "otieno")]) == [1, 1, 1]
