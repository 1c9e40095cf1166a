"""/metrics: Prometheus text for admins and the metrics token only."""
from tests.helpers import make_product, place_order


async def test_metrics_count_orders_by_status_for_an_admin(client, admin):
    product = await make_product(client, admin, stock=5)
    await place_order(client, (product, 1))

    response = await client.get("/metrics", headers=admin)

    assert response.status == 200 and response.content_type == "text/plain"
    assert 'orderdesk_orders{status="pending"} 1' in await response.text()


async def test_metrics_refuse_anyone_without_an_admin_token(client, staff):
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=staff)).status == 401
