"""The unit of work (STYLE "Transactions"): nothing is kept unless `commit()` is called."""
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from core import catalog
from core.models import Product, StockMovement
from tests.databases import sqlite_only


async def add_belt(tx) -> None:
    await catalog.create_product(tx, actor="test", name="Belt", barcode="BELT-1", price=Decimal("900.00"),
                                 stock_quantity=4)


async def rows(uow, model) -> int:
    async with uow() as tx:
        return await tx.session.scalar(select(func.count()).select_from(model))


async def test_leaving_without_commit_rolls_back(uow):
    async with uow() as tx:
        await add_belt(tx)
        await tx.session.flush()

    assert await rows(uow, Product) == 0
    assert await rows(uow, StockMovement) == 0


async def test_an_error_inside_rolls_back(uow):
    with pytest.raises(RuntimeError):
        async with uow() as tx:
            await add_belt(tx)
            await tx.session.flush()
            raise RuntimeError("the network went away")

    assert await rows(uow, Product) == 0


async def test_commit_keeps_the_change(uow):
    async with uow() as tx:
        await add_belt(tx)
        await tx.commit()

    assert await rows(uow, Product) == 1
    assert await rows(uow, StockMovement) == 1


# --- SQLite: statements run again and again skip SQLAlchemy's execution path (core/db.py) ---------

PRODUCTS = Product.__table__
BY_BARCODE = select(PRODUCTS.c.name, PRODUCTS.c.price, PRODUCTS.c.sizes, PRODUCTS.c.created_at).where(
    PRODUCTS.c.barcode == bindparam("barcode"))
ADD = insert(PRODUCTS).returning(PRODUCTS.c.barcode, sort_by_parameter_order=True)


async def test_a_statement_run_again_answers_as_sqlalchemy_did_the_first_time(uow):
    async with uow() as tx:
        await add_belt(tx)
        await tx.flush()
        first = (await tx.execute(BY_BARCODE, {"barcode": "BELT-1"})).all()   # SQLAlchemy's path
        again = (await tx.execute(BY_BARCODE, {"barcode": "BELT-1"})).all()   # compiled once, then its own

    assert again == first and len(first) == 1
    name, price, sizes, created_at = again[0]
    assert (name, price, again[0].name) == ("Belt", first[0].price, "Belt")
    assert type(price) is type(first[0].price) and type(sizes) is type(first[0].sizes)
    assert created_at.tzinfo is not None and created_at == first[0].created_at


async def test_rows_come_back_in_the_order_of_the_parameters_and_a_taken_key_is_an_integrity_error(uow):
    now = uow.now()

    def belt(n: int) -> dict:
        return {"id": f"p-{n}", "name": f"Belt {n}", "barcode": f"B-{n}", "price": Decimal("900.00"),
                "stock_quantity": 1, "sizes": [], "colors": [], "image_urls": [], "description": "", "category": "",
                "created_at": now, "updated_at": now}

    async with uow() as tx:
        first = (await tx.execute(ADD, [belt(3), belt(1)])).scalars().all()
        again = (await tx.execute(ADD, [belt(4), belt(2), belt(5)])).scalars().all()
        with pytest.raises(IntegrityError):
            await tx.execute(ADD, [belt(6), belt(1)])

    assert (first, again) == (["B-3", "B-1"], ["B-4", "B-2", "B-5"])


async def test_a_reader_waits_for_a_connection_when_every_pooled_one_is_in_use(uow):
    """Readers take pooled connections; the one that finds none free waits for the next to come back
    (on SQLite the pool is taken without SQLAlchemy's asyncio path until it must wait)."""
    import asyncio
    from contextlib import AsyncExitStack

    pool = uow._engine.sync_engine.pool
    async with AsyncExitStack() as held:
        for _ in range(pool.size() + pool._max_overflow):  # all it keeps and all it may open besides
            await held.enter_async_context(uow(readonly=True))

        async def read():
            async with uow(readonly=True) as tx:
                return await tx.session.scalar(select(func.count()).select_from(Product))

        waiting = asyncio.create_task(read())
        await asyncio.sleep(0.05)
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, 30) == 0


TAKE_ONE = (PRODUCTS.update().where(PRODUCTS.c.barcode == bindparam("b_barcode"),
                                    PRODUCTS.c.stock_quantity >= bindparam("b_quantity"))
            .values(stock_quantity=PRODUCTS.c.stock_quantity - bindparam("b_quantity"))
            .returning(PRODUCTS.c.barcode, PRODUCTS.c.stock_quantity))


@pytest.mark.parametrize("times", [1, 2])  # a statement's first run takes SQLAlchemy's path, later runs their own
async def test_a_statement_run_for_each_row_answers_in_their_order_and_a_row_it_skips_is_missing(uow, times):
    async with uow() as tx:
        await add_belt(tx)
        await catalog.create_product(tx, actor="test", name="Cap", barcode="CAP-1", price=Decimal("500.00"),
                                     stock_quantity=1)
        await tx.flush()
        for _ in range(times):
            found = (await tx.execute_each(TAKE_ONE, [{"b_barcode": "CAP-1", "b_quantity": 2},
                                                      {"b_barcode": "BELT-1", "b_quantity": 1},
                                                      {"b_barcode": "CAP-1", "b_quantity": 1}])).all()
            levels = [tuple(row) for row in found]
            await tx.execute_each(TAKE_ONE, [{"b_barcode": "BELT-1", "b_quantity": -1},
                                             {"b_barcode": "CAP-1", "b_quantity": -1}])  # put back
        nothing = (await tx.execute_each(TAKE_ONE, [])).all()

    # The first row asks for more than there is: each row is its own statement, run in the rows' order.
    assert levels == [("BELT-1", 3), ("CAP-1", 0)]
    assert nothing == []


# --- writers at once: on SQLite they share one transaction and its COMMIT (core/uow.py) ------------

async def add_product(tx, barcode: str) -> None:
    await catalog.create_product(tx, actor="test", name=barcode.title(), barcode=barcode, price=Decimal("100.00"),
                                 stock_quantity=1)


async def barcodes(uow) -> set[str]:
    async with uow(readonly=True) as tx:
        return set((await tx.execute(select(PRODUCTS.c.barcode))).scalars().all())


async def test_writers_at_once_keep_each_what_it_committed_and_no_more(uow):
    import asyncio

    async def commits(barcode):
        async with uow() as tx:
            await add_product(tx, barcode)
            await tx.commit()

    async def fails(barcode):
        async with uow() as tx:
            await add_product(tx, barcode)
            await tx.flush()
            raise LookupError("the customer's number is unknown")

    async def commits_then_writes_more(first, more):
        async with uow() as tx:
            await add_product(tx, first)
            await tx.commit()
            await add_product(tx, more)
            await tx.flush()

    async def commits_twice(first, second):
        async with uow() as tx:
            await add_product(tx, first)
            await tx.commit()
            await add_product(tx, second)
            await tx.commit()

    outcomes = await asyncio.gather(commits("BELT"), fails("CAP"), commits_then_writes_more("HAT", "SCARF"),
                                    commits_twice("SOCK", "TIE"), fails("GLOVE"), commits("BELT"), commits("VEST"),
                                    return_exceptions=True)

    # One BELT meets the other in the unique index: its flush fails, and rolls back its own work only. Which of
    # the two comes second is up to the database (on PostgreSQL, whichever connection inserts first).
    names = [type(outcome).__name__ for outcome in outcomes]
    assert sorted([names.pop(5), names.pop(0)]) == ["DuplicateBarcode", "NoneType"]
    assert names == ["LookupError", "NoneType", "NoneType", "LookupError", "NoneType"]
    assert await barcodes(uow) == {"BELT", "HAT", "SOCK", "TIE", "VEST"}
    assert await rows(uow, StockMovement) == 5  # each product's initial stock, kept with it


@sqlite_only
async def test_writers_at_once_share_one_commit_and_their_rows_are_there_once_they_leave(uow, settings):
    import asyncio
    import sqlite3

    from sqlalchemy import event

    commits = []
    event.listen(uow._engine.sync_engine, "commit", lambda _conn: commits.append(1))
    outside = sqlite3.connect(settings.database_url.split("///", 1)[1])
    seen = {}

    async def commits_and_looks(barcode):
        async with uow() as tx:
            await add_product(tx, barcode)
            await tx.commit()
        seen[barcode] = outside.execute("SELECT count(*) FROM products WHERE barcode = ?", (barcode,)).fetchone()[0]

    await asyncio.gather(*(commits_and_looks(f"P-{n}") for n in range(8)))

    assert len(commits) == 1
    assert seen == {f"P-{n}": 1 for n in range(8)}  # durable and visible to others as each block is left
    outside.close()


@sqlite_only
async def test_a_writer_that_fails_alone_leaves_the_database_free_for_other_processes(uow, settings):
    import sqlite3

    with pytest.raises(LookupError):
        async with uow() as tx:
            await add_product(tx, "CAP")
            await tx.flush()
            raise LookupError("no such customer")

    other = sqlite3.connect(settings.database_url.split("///", 1)[1], timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # "database is locked" if the failed writer's transaction were still open
    other.execute("ROLLBACK")
    other.close()


@sqlite_only
async def test_a_commit_that_fails_fails_every_writer_that_waited_for_it_and_keeps_none_of_them(uow):
    """What a full disk does to a COMMIT, here a foreign key checked at COMMIT: no writer of the
    transaction may be told its change was kept."""
    import asyncio

    from sqlalchemy import text

    async def commits(barcode):
        async with uow() as tx:
            await add_product(tx, barcode)
            await tx.commit()

    async def breaks_the_commit():
        async with uow() as tx:
            await tx.execute(text("PRAGMA defer_foreign_keys = ON"))
            await tx.execute(text("INSERT INTO stock_movements (product_id, delta, reason, actor, at) "
                                  "VALUES ('no-such-product', 1, 'test', 'test', '2026-11-30 00:00:00')"))
            await tx.commit()

    outcomes = await asyncio.gather(commits("BELT"), breaks_the_commit(), commits("VEST"), return_exceptions=True)

    assert [type(outcome) for outcome in outcomes] == [IntegrityError] * 3
    assert await barcodes(uow) == set()
    async with uow() as tx:  # and the next writer starts afresh
        await add_product(tx, "SOCK")
        await tx.commit()
    assert await barcodes(uow) == {"SOCK"}
