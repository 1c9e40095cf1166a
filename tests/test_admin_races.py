"""Admins confirming at the same moment: each order confirmed once, stock never oversold."""
import asyncio

import pytest

from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, order_body

MANY_ADMINS = [ADMIN_PHONE] + [f"+2547000001{n:02d}" for n in range(19)]


@pytest.fixture
def admins() -> list[str]:
    return MANY_ADMINS


@pytest.fixture
def wa_settings(wa_settings):
    return wa_settings.model_copy(update={"admin_alert_new_orders": False})  # 20 admins × 20 orders is noise


async def _answers(wa, phones):
    """Each admin's answer to their command (alerts, such as low stock, may arrive beside it)."""
    answers = []
    for phone in phones:
        messages = await wa.twilio.wait_for(
            lambda: [m["Body"] for m in wa.twilio.messages_to(phone) if not m["Body"].startswith(("📉", "📵"))], timeout=5.0)
        answers += messages
    return answers


async def test_two_admins_confirming_one_order_confirm_it_once(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=10)
    order = await (await wa.client.post("/api/orders/", json=order_body((product, 3)))).json()
    ref = order["orderReference"]
    two = MANY_ADMINS[:2]

    await asyncio.gather(*(wa.say(f"confirm {ref}", phone=phone) for phone in two))

    answers = await _answers(wa, two)
    assert sum(a.startswith("✅") for a in answers) == 1
    assert sum("already confirmed" in a for a in answers) == 1
    product_now = await (await wa.client.get(f"/api/products/{product['id']}/")).json()
    assert product_now["stockQuantity"] == 7


async def test_twenty_admins_confirming_orders_for_five_units_confirm_exactly_five(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=5)
    orders = [await (await wa.client.post("/api/orders/", json=order_body((product, 1)))).json() for _ in range(20)]

    await asyncio.gather(*(wa.say(f"confirm {o['orderReference']}", phone=phone)
                           for o, phone in zip(orders, MANY_ADMINS)))

    answers = await _answers(wa, MANY_ADMINS)
    assert sum(a.startswith("✅") for a in answers) == 5
    assert sum("Not enough stock" in a for a in answers) == 15
    product_now = await (await wa.client.get(f"/api/products/{product['id']}/")).json()
    assert product_now["stockQuantity"] == 0
    page = await (await wa.client.get("/api/orders/?status=confirmed", headers=admin)).json()
    assert page["count"] == 5
