"""The engines: a pooled PostgreSQL connection the database closed is replaced, never an error."""
from sqlalchemy import text

from core.db import make_engine, make_sessionmaker
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
