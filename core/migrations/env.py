"""Alembic environment: runs migrations over the app's own async engine."""
import asyncio
from concurrent.futures import ThreadPoolExecutor

from alembic import context

from core.db import make_engine
from core.migrate import include_name
from core.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, include_name=include_name,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("orderdesk runs migrations online only: orderdesk db upgrade")
try:
    asyncio.get_running_loop()
except RuntimeError:
    asyncio.run(_main())
else:  # called from inside an event loop (tests, start-up checks): migrate on a thread of its own
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _main()).result()
