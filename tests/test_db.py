"""The engines: a pooled PostgreSQL connection the database closed is replaced, never an error; a
database error never carries a statement's parameters (a phone, a message) into a log."""
import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine, make_sessionmaker
from core.models import Customer
from core.settings import Settings
from core.uow import UnitOfWork


async def test_a_pooled_connection_closed_by_postgresql_while_idle_is_replaced(postgres_database):
    engine = make_engine(postgres_database, ping_after_idle_s=0)  # every checkout counts as after idle
    uow = UnitOfWork(make_sessionmaker(engine), Settings(_env_file=None, database_url=postgres_database))
    async with uow(readonly=True) as tx:
        first = await tx.scalar(text("SELECT pg_backend_pid()"))
    other = make_engine(postgres_database)
    async with other.connect() as conn:  # as a restart or the platform's maintenance would
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await other.dispose()

    async with uow(readonly=True) as tx:
        second = await tx.scalar(text("SELECT pg_backend_pid()"))

    assert second != first
    await engine.dispose()


async def test_a_database_error_shows_no_statement_parameters(uow, caplog):
    phone, name = "+254712345678", "Amina Otieno"
    row = {"phone": phone, "profile_name": name, "opted_out": False, "created_at": datetime.now(timezone.utc)}
    with caplog.at_level(logging.DEBUG), pytest.raises(IntegrityError) as raised:
        for _ in range(2):  # the second is a duplicate phone
            async with uow() as tx:
                await tx.execute(insert(Customer.__table__), row)
                await tx.commit()

    seen = str(raised.value) + caplog.text
    assert "customers" in seen and phone not in seen and "712345678" not in seen and name not in seen
