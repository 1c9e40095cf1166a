"""Reads never queue behind a writer: the catalog and order pages answer while a long write is open."""
import asyncio

from sqlalchemy import func, select

from core.models import Product
from tests.helpers import make_product


async def test_a_read_only_unit_of_work_does_not_wait_for_an_open_write(uow):
    async with uow() as writer:
        writer.session.add(Product(id="p-1", name="Shirt", barcode="B-1", price=1, stock_quantity=1,
                                   created_at=writer.now(), updated_at=writer.now()))
        await writer.session.flush()  # the write lock is held from here until commit

        async def count():
            async with uow(readonly=True) as reader:
                return await reader.session.scalar(select(func.count()).select_from(Product))
        seen_during = await asyncio.wait_for(count(), timeout=10)  # with the write lock it would wait 30 s
        await writer.commit()

    assert seen_during == 0  # the reader saw the last committed state, not the write in progress


async def test_the_catalog_answers_while_an_order_is_being_confirmed(client, admin, uow):
    await make_product(client, admin, stock=3)

    async with uow() as writer:
        await writer.session.execute(select(Product).with_for_update())
        await writer.session.execute(Product.__table__.update().values(stock_quantity=2))  # holds the lock
        response = await asyncio.wait_for(client.get("/api/products/"), timeout=10)
        await writer.commit()

    assert response.status == 200 and (await response.json())[0]["stockQuantity"] == 3
