"""Searching the order list (CONTRACT §2 `search=`): a case-insensitive substring of the reference, the
customer's name or phone. Terms of three characters or more are answered from a trigram index (an FTS5
table on SQLite, pg_trgm on PostgreSQL), shorter ones row by row; either way the answer must be the one
the plain substring test over the rows gives, for any text at all, on both databases. On SQLite new
orders join the index in batches (core/search_index.py): the answers must not depend on how many of
them it holds yet."""
import asyncio
import logging
import uuid

import pytest
from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import make_url

from core import search_index
from core.db import make_engine, make_sessionmaker
from core.models import Order
from core.uow import UnitOfWork
from tests.databases import postgres_only, sqlite_only
from tests.helpers import make_product, order_body
from webhooks.app import create_app

CUSTOMERS = [  # (name, phone, reference or None for a generated one)
    ("Wanjiru Kamau", "0733 123 456", "LEG-MGX2K7Q1-A3F9"),
    ("Amina Otieno", "0712 345 678", None),
    ("Zoë Müller", "+49 30 901820", None),
    ("STRASSE Straße", "0722 000 111", None),
    ("İsmail Işık", "+90 212 555 1234", None),
    ('Bob O\'Brien "the builder"', "0711 222 333", None),
    ("100% Cotton_Shop", "0700 100 200", "SHOP-1738704998-X7K2"),
    ("Star * Shop (NEAR) AND OR NOT", "0799 888 777", None),
    ("日本語の名前 🙂🙂🙂", "0755 444 333", None),
    ("back\\slash/and//slash", "0744 555 666", None),
    ("a:b^c-d{e}", "0733 999 000", None),
    ("ǅemal DŽ", "0720 202 303", None),
]

TERMS = [
    "wanjiru", "WANJIRU", "anj", "ji", "a", "kamau otieno", "kamau\n+2547", "kamau\n", "2547", "+254", "0733",
    "733 123", "+49",
    "leg-", "mgx2k7q1", "x7k2", "shop-1738", "1738704998",
    '"', "'", '""', "o'brien", 'r "the', '"the builder"', "%", "_", "%_", "0%", "0% cotton_", "n_s", "*", "* s",
    "(near)", "near", "and or", "not", "^c", "a:b", "{e}", "-d", "\\", "/", "//", "\\s", "lash/", "%%", "__",
    "zoë", "ZOË", "zoe", "ö", "müller", "straße", "STRASSE", "ß", "ss", "İsm", "ism", "ışık", "IŞIK", "ı",
    "日本", "日本語", "の名前", "🙂", "🙂🙂", "🙂🙂🙂", "ǅ", "ǆemal", "dž", " ", "  kamau  ", "a b", "z" * 50,
]


@pytest.fixture
async def client(aiohttp_client, settings, clock):
    """The app without its scheduler, so that only the test moves orders into the search index."""
    return await aiohttp_client(create_app(settings, clock=clock, jobs_enabled=False))


@pytest.fixture
async def orders(client, admin) -> list[dict]:
    shirt = await make_product(client, admin, stock=100)
    placed = []
    for name, phone, reference in CUSTOMERS:
        extra = {"orderReference": reference} if reference else {}
        response = await client.post("/api/orders/", json=order_body((shirt, 1), phone=phone, customerName=name, **extra))
        assert response.status == 201, await response.text()
        placed.append(await response.json())
    return placed


async def index_by_steps(uow):
    """On SQLite: yields with none of the orders in the search index, then with the oldest five, then
    with all of them. On PostgreSQL: with the orders in the trigram index's pending list, then folded in."""
    if not uow.settings.database_url.startswith("sqlite"):
        yield "pending"
        await search_index.catch_up(uow)
        yield "all"
        return
    yield "none"
    assert await search_index.index_next(uow, chunk=5) == 5
    assert await indexed_upto(uow) < await highest_rowid(uow)
    yield "some"
    await search_index.catch_up(uow)
    assert await indexed_upto(uow) == await highest_rowid(uow)
    yield "all"


async def indexed_upto(uow) -> int | None:
    if not uow.settings.database_url.startswith("sqlite"):
        return None
    async with uow(readonly=True) as tx:
        return await tx.scalar(text("SELECT indexed_upto FROM orders_search_progress"))


async def highest_rowid(uow) -> int:
    async with uow(readonly=True) as tx:
        return await tx.scalar(text("SELECT max(rowid) FROM orders"))


async def substring_answer(uow, term: str, limit: int, offset: int) -> tuple[int, list[str]]:
    """The search as it was written before any index, run on the same database: lower() of each column
    LIKE the lower-cased term with its wildcards escaped."""
    term = term.strip().lower()
    where = or_(*(func.lower(column).contains(term, autoescape=True)
                  for column in (Order.reference, Order.customer_name, Order.customer_phone)))
    async with uow(readonly=True) as tx:
        count = await tx.session.scalar(select(func.count()).select_from(Order).where(where))
        ids = (await tx.session.execute(select(Order.id).where(where).order_by(Order.created_at.desc(), Order.id.desc())
                                        .limit(limit).offset(offset))).scalars().all()
    return count, list(ids)


async def api_answer(client, admin, term: str, limit: int, offset: int) -> tuple[int, list[str]]:
    response = await client.get("/api/orders/", headers=admin, params={"search": term, "limit": limit, "offset": offset})
    assert response.status == 200, await response.text()
    page = await response.json()
    return page["count"], [order["id"] for order in page["results"]]


async def test_every_term_finds_what_the_substring_test_finds(client, admin, uow, orders):
    differences = {}
    async for indexed in index_by_steps(uow):
        # limit 100: the matches are few, so they are taken and sorted; limit 1 offset 1: many enough
        # that the index is walked newest first instead.
        for term in TERMS:
            for limit, offset in ((100, 0), (1, 1)):
                expected = await substring_answer(uow, term, limit, offset)
                got = await api_answer(client, admin, term, limit, offset)
                if got != expected:
                    differences[(indexed, term, limit, offset)] = (got, expected)

    assert differences == {}
    assert (await substring_answer(uow, "wanjiru", 100, 0))[0] == 1  # the table is not vacuous
    assert (await substring_answer(uow, "a", 100, 0))[0] > 5


@pytest.mark.parametrize("indexed_first", [False, True], ids=["changed-while-new", "changed-once-indexed"])
async def test_search_follows_a_changed_and_a_deleted_order(client, admin, uow, orders, indexed_first):
    wanjiru, amina = orders[0], orders[1]
    if indexed_first:
        await search_index.catch_up(uow)
    async with uow() as tx:
        await tx.execute(text("UPDATE orders SET customer_name = 'Nyokabi Wairimu' WHERE id = :id"), {"id": wanjiru["id"]})
        await tx.execute(text("DELETE FROM orders WHERE id = :id"), {"id": amina["id"]})
        await tx.commit()

    for _ in ("as they are", "then indexed"):
        assert await api_answer(client, admin, "nyokabi", 100, 0) == (1, [wanjiru["id"]])
        assert await api_answer(client, admin, "wanjiru", 100, 0) == (0, [])
        assert await api_answer(client, admin, "otieno", 100, 0) == (0, [])
        assert await api_answer(client, admin, "0733 123", 100, 0) == (0, [])  # phones are searched as stored
        assert await api_answer(client, admin, "733123", 100, 0) == (1, [wanjiru["id"]])
        await search_index.catch_up(uow)


@sqlite_only
async def test_an_order_given_the_rowid_of_a_deleted_one_is_found(client, admin, uow, orders):
    """SQLite gives a new row the highest rowid plus one: deleting the newest order frees its rowid."""
    await search_index.catch_up(uow)
    newest = orders[-1]
    async with uow() as tx:
        freed = await tx.scalar(text("SELECT rowid FROM orders WHERE id = :id"), {"id": newest["id"]})
        await tx.execute(text("DELETE FROM orders WHERE id = :id"), {"id": newest["id"]})
        await tx.commit()
    shirt = await make_product(client, admin, stock=10)
    response = await client.post("/api/orders/", json=order_body((shirt, 1), phone="0798 765 432",
                                                                 customerName="Fresh Njoroge"))
    assert response.status == 201, await response.text()
    fresh = (await response.json())["id"]
    async with uow(readonly=True) as tx:
        assert await tx.scalar(text("SELECT rowid FROM orders WHERE id = :id"), {"id": fresh}) == freed

    for _ in ("new", "then indexed"):
        assert await api_answer(client, admin, "fresh njo", 100, 0) == (1, [fresh])
        assert await api_answer(client, admin, "798765", 100, 0) == (1, [fresh])
        assert await api_answer(client, admin, "ǅemal", 100, 0) == (0, [])  # the deleted order's name
        await search_index.catch_up(uow)
    assert await indexed_upto(uow) == freed


@sqlite_only
async def test_the_server_indexes_new_orders_by_itself(aiohttp_client, settings, admin, uow):
    client = await aiohttp_client(create_app(settings))  # with its scheduler
    shirt = await make_product(client, admin, stock=100)
    for n in range(3):
        response = await client.post("/api/orders/", json=order_body((shirt, 1), phone=f"0711 000 00{n}"))
        assert response.status == 201, await response.text()
    for _ in range(200):  # the scheduler comes every second; this waits on what it leaves, up to 20 s
        if await indexed_upto(uow) == await highest_rowid(uow):
            break
        await asyncio.sleep(0.1)
    assert await indexed_upto(uow) == await highest_rowid(uow)


@postgres_only
async def test_new_orders_are_folded_into_the_trigram_index_once(client, admin, uow, orders):
    """PostgreSQL queues a GIN index's new entries in a pending list that every search reads through;
    the scheduler's every-second catch-up moves them into the index, and finds nothing the next time."""
    first = await search_index.fold_pending(uow)
    again = await search_index.fold_pending(uow)

    assert first >= 1 and again == 0
    wanjiru = orders[0]
    assert await api_answer(client, admin, "kamau", 20, 0) == (1, [wanjiru["id"]])


@postgres_only
async def test_a_role_that_may_not_fold_the_index_is_told_once_and_keeps_serving(db_url, settings, caplog):
    """Folding the pending list takes the table's owner; a server running as another role says what
    to do once, and its scheduler's catch-up goes on without error."""
    role = f"orderdesk_reader_{uuid.uuid4().hex[:8]}"
    owner = make_engine(db_url)
    async with owner.begin() as conn:
        await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        await conn.execute(text(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO "{role}"'))
    engine = make_engine(make_url(db_url).set(username=role, password=None).render_as_string(hide_password=False))
    try:
        uow = UnitOfWork(make_sessionmaker(engine), settings)
        with caplog.at_level(logging.WARNING, logger="orderdesk.search"):
            folded = [await search_index.fold_pending(uow) for _ in range(3)]
            assert await search_index.catch_up(uow) == 0
    finally:
        await engine.dispose()
        async with owner.begin() as conn:
            await conn.execute(text(f'DROP OWNED BY "{role}"'))
            await conn.execute(text(f'DROP ROLE "{role}"'))
        await owner.dispose()

    assert folded == [0, 0, 0]
    [told] = [r.getMessage() for r in caplog.records if r.name == "orderdesk.search"]
    assert "ALTER TABLE orders_search_text OWNER TO" in told
