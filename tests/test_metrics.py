"""/metrics: Prometheus text for admins and the metrics token only, counting every row exactly."""
import asyncio

from sqlalchemy import func, select

from core import tallies
from core.models import InboundMessage, Order, OutboundMessage
from tests.helpers import eventually, make_product, place_order


async def test_metrics_count_orders_by_status_for_an_admin(client, admin):
    product = await make_product(client, admin, stock=5)
    await place_order(client, (product, 1))

    response = await client.get("/metrics", headers=admin)

    assert response.status == 200 and response.content_type == "text/plain"
    assert 'orderdesk_orders{status="pending"} 1' in await response.text()


async def test_metrics_refuse_anyone_without_an_admin_token(client, staff):
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=staff)).status == 401


async def counted_rows(uow) -> list[str]:
    """The metric lines for orders and messages as counting every row gives them."""
    async with uow(readonly=True) as tx:
        orders = (await tx.session.execute(select(Order.status, func.count()).group_by(Order.status))).all()
        outbound = (await tx.session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))).all()
        inbound = await tx.session.scalar(select(func.count()).select_from(InboundMessage))
    return sorted([f'orderdesk_orders{{status="{s}"}} {n}' for s, n in orders]
                  + [f'orderdesk_outbound_messages{{status="{s}"}} {n}' for s, n in outbound]
                  + [f"orderdesk_inbound_messages_total {inbound}"])


async def counts_in_metrics(client, admin) -> list[str]:
    text = await (await client.get("/metrics", headers=admin)).text()
    return sorted(line for line in text.splitlines()
                  if line.startswith(("orderdesk_orders{", "orderdesk_outbound_messages{", "orderdesk_inbound")))


async def metrics_agree_with_the_rows(client, admin, uow) -> bool:
    # The outbox sender moves messages along meanwhile: compare once it has let them be.
    return await counts_in_metrics(client, admin) == await counted_rows(uow)


async def test_metrics_count_every_row_through_changes_and_folds(client, admin, uow):
    product = await make_product(client, admin, stock=10)
    placed = [await place_order(client, (product, 1)) for _ in range(4)]
    await client.post(f"/api/orders/{placed[0]['id']}/confirm/", headers=admin)
    await client.post(f"/api/orders/{placed[1]['id']}/cancel/", headers=admin)
    await eventually(lambda: metrics_agree_with_the_rows(client, admin, uow))

    folded = await tallies.fold(uow, chunk=3)

    assert folded > 3
    await eventually(lambda: metrics_agree_with_the_rows(client, admin, uow))
    assert 'orderdesk_orders{status="pending"} 2' in await counts_in_metrics(client, admin)


async def test_folds_running_together_with_writes_lose_no_count(client, admin, uow):
    product = await make_product(client, admin, stock=20)
    await place_order(client, (product, 1))

    await asyncio.gather(tallies.fold(uow, chunk=2), tallies.fold(uow, chunk=2),
                         *(place_order(client, (product, 1)) for _ in range(5)), tallies.fold(uow, chunk=2))

    await eventually(lambda: metrics_agree_with_the_rows(client, admin, uow))
    assert 'orderdesk_orders{status="pending"} 6' in await counts_in_metrics(client, admin)
