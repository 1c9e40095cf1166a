"""The unit of work (STYLE "Transactions"): nothing is kept unless `commit()` is called."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import catalog
from core.models import Product, StockMovement


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
