"""Small builders shared by tests."""
from __future__ import annotations

import itertools

_barcodes = itertools.count(1)


async def make_product(client, headers, *, stock=10, price="1500.00", name=None) -> dict:
    n = next(_barcodes)
    response = await client.post("/api/products/", headers=headers, json={
        "name": name or f"Product {n}", "barcode": f"BC-{n:05d}", "price": price, "stockQuantity": stock})
    assert response.status == 201, await response.text()
    return await response.json()


def order_body(*lines, phone="0712 345 678", **extra) -> dict:
    """lines: (product, quantity) pairs."""
    return {"customerName": "Amina Otieno", "customerPhone": phone, "customerAddress": "Moi Ave 12",
            "items": [{"productId": p["id"], "quantity": q} for p, q in lines], **extra}


async def place_order(client, *lines, **extra) -> dict:
    response = await client.post("/api/orders/", json=order_body(*lines, **extra))
    assert response.status == 201, await response.text()
    return await response.json()


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Await `check()` (a coroutine function) until it returns something truthy; bounded in time."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            assert result, f"still not true after {timeout}s"
            return result
        await asyncio.sleep(interval)
