"""SQLite's write-ahead log in a serving process: commits never copy it back into the database file
(that stopped the event loop for milliseconds, core/wal.py); a thread does, and the log starts again
from the beginning instead of growing."""
import asyncio
import shutil
import sqlite3

from core import catalog
from core.db import make_engine, make_sessionmaker
from core.settings import Settings
from core.uow import UnitOfWork, writers_for
from core.wal import Checkpointer
from webhooks import keys
from webhooks.app import create_app


def _products_in_the_file_alone(path, tmp_path) -> int:
    """How many products a copy of the database file holds without its log: what was copied back
    (None for a copy taken while a checkpoint was writing the file)."""
    alone = tmp_path / "alone.db"
    shutil.copy(path, alone)
    try:
        with sqlite3.connect(alone) as db:
            return db.execute("SELECT count(*) FROM products").fetchone()[0]
    except sqlite3.DatabaseError:
        return None


async def _add_products(uow, first: int, count: int) -> None:
    for n in range(first, first + count):
        async with uow() as tx:
            await catalog.create_product(tx, actor="test", name=f"Shirt {n}", price=100, stock_quantity=5,
                                         barcode=f"B{n}")
            await tx.commit()


async def test_commits_leave_the_log_to_the_checkpointer_which_copies_it_back_and_starts_it_again(
        sqlite_template, tmp_path):
    path = tmp_path / "shop.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url, autocheckpoint=False)
    uow = UnitOfWork(make_sessionmaker(engine), Settings(_env_file=None, database_url=url))
    checkpointer = Checkpointer(str(path), writers_for(engine))
    try:
        await _add_products(uow, 0, 300)  # far past the 1,000 pages at which a commit would copy them
        assert _products_in_the_file_alone(path, tmp_path) == 0

        pages, copied = await checkpointer.copy_back()
        assert copied == pages > 1000
        assert _products_in_the_file_alone(path, tmp_path) == 300

        await _add_products(uow, 300, 300)
        again, copied = await checkpointer.copy_back()
        assert copied == again
        assert again < pages * 1.5  # the log started again from its beginning: it did not grow to twice
        assert _products_in_the_file_alone(path, tmp_path) == 600
    finally:
        checkpointer.stop()
        await checkpointer.run()  # returns at once when stopped, closing its connection
        await engine.dispose()


async def test_the_server_copies_its_log_back_by_itself(aiohttp_client, sqlite_template, tmp_path):
    path = tmp_path / "shop.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{path}", twilio_account_sid=None,
                        twilio_auth_token=None, media_dir=str(tmp_path / "media"))
    client = await aiohttp_client(create_app(settings, jobs_enabled=False))
    await _add_products(client.app[keys.UOW], 0, 50)
    for _ in range(200):  # its rounds come every 0.2 s; this waits on what they leave, up to 20 s
        if _products_in_the_file_alone(path, tmp_path) == 50:
            break
        await asyncio.sleep(0.1)
    assert _products_in_the_file_alone(path, tmp_path) == 50


async def test_a_round_that_fails_is_told_and_the_next_one_tried(tmp_path):
    """A background worker never dies of a failure (here: the database file cannot be opened)."""
    class Complaint:
        def __init__(self):
            self.messages, self.twice = [], asyncio.Event()

        def exception(self, message):
            self.messages.append(message)
            if len(self.messages) == 2:
                self.twice.set()

    class NoWriters:
        async def acquire(self):
            pass

        def end_batch(self):
            pass

        def release(self):
            pass

    complaint = Complaint()
    checkpointer = Checkpointer(str(tmp_path / "missing" / "shop.db"), NoWriters(), interval_s=0.01,
                                complaint=complaint)
    running = asyncio.create_task(checkpointer.run())
    await asyncio.wait_for(complaint.twice.wait(), 30)
    checkpointer.stop()
    await asyncio.wait_for(running, 30)  # it returns when asked, having outlived both failures

    assert complaint.messages[0] == "could not copy SQLite's write-ahead log back into the database file"
