"""/metrics: Prometheus text for admins and the metrics token only — the shop's counts exact for every
row, the process's own requests, latencies, sends and job runs beside them."""
import asyncio
import logging
from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from core import jobs, tallies
from core.models import InboundMessage, Order, OutboundMessage
from tests.conftest import ADMIN_PHONE
from tests.helpers import eventually, make_product, place_order
from webhooks import scheduler
from webhooks.observe import Meters, Throttled


async def test_metrics_count_orders_by_status_for_an_admin(client, admin):
    product = await make_product(client, admin, stock=5)
    await place_order(client, (product, 1))

    response = await client.get("/metrics", headers=admin)

    assert response.status == 200 and response.content_type == "text/plain"
    assert samples(await response.text())[("orderdesk_orders", (("status", "pending"),))] == 1


async def test_metrics_refuse_anyone_without_an_admin_token(client, staff):
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=staff)).status == 401


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, its labels) -> value, as a Prometheus server parses the text."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def counted_rows(uow) -> dict:
    """The samples for orders and messages as counting every row gives them."""
    async with uow(readonly=True) as tx:
        orders = (await tx.session.execute(select(Order.status, func.count()).group_by(Order.status))).all()
        outbound = (await tx.session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))).all()
        inbound = await tx.session.scalar(select(func.count()).select_from(InboundMessage))
    return {**{("orderdesk_orders", (("status", s),)): n for s, n in orders},
            **{("orderdesk_outbound_messages", (("status", s),)): n for s, n in outbound},
            ("orderdesk_inbound_messages_total", ()): inbound}


async def counts_in_metrics(client, admin) -> dict:
    text = await (await client.get("/metrics", headers=admin)).text()
    return {key: value for key, value in samples(text).items()
            if key[0] in ("orderdesk_orders", "orderdesk_outbound_messages", "orderdesk_inbound_messages_total")}


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
    assert (await counts_in_metrics(client, admin))[("orderdesk_orders", (("status", "pending"),))] == 2


async def test_folds_running_together_with_writes_lose_no_count(client, admin, uow):
    product = await make_product(client, admin, stock=20)
    await place_order(client, (product, 1))

    await asyncio.gather(tallies.fold(uow, chunk=2), tallies.fold(uow, chunk=2),
                         *(place_order(client, (product, 1)) for _ in range(5)), tallies.fold(uow, chunk=2))

    await eventually(lambda: metrics_agree_with_the_rows(client, admin, uow))
    assert (await counts_in_metrics(client, admin))[("orderdesk_orders", (("status", "pending"),))] == 6


async def test_metrics_count_this_processs_requests_by_route_and_status(client, admin):
    product = await make_product(client, admin, stock=5)
    order = await place_order(client, (product, 1))
    for _ in range(3):
        await client.get(f"/api/orders/{order['id']}/", headers=admin)
    await client.get("/api/orders/no-such-order/", headers=admin)

    seen = samples(await (await client.get("/metrics", headers=admin)).text())

    route = (("method", "GET"), ("route", "/api/orders/{id}/"))
    assert seen[("orderdesk_http_requests_total", (*route, ("status", "200")))] == 3
    assert seen[("orderdesk_http_requests_total", (*route, ("status", "404")))] == 1
    assert seen[("orderdesk_http_request_duration_seconds_count", (("route", "/api/orders/{id}/"),))] == 4


async def test_metrics_show_the_outbox_waiting_and_its_oldest_age(client, admin, uow, clock):
    async with uow() as tx:  # a message queued 90 s ago whose next try is an hour away (Twilio was down)
        now = tx.now()
        tx.session.add(OutboundMessage(key="k1", kind="order_status", to_phone="+254712345678", body="hi",
                                       variables={}, status="queued", attempts=3, created_at=now - timedelta(seconds=90),
                                       updated_at=now, next_attempt_at=now + timedelta(hours=1)))
        await tx.commit()

    seen = samples(await (await client.get("/metrics", headers=admin)).text())

    assert seen[("orderdesk_outbox_waiting", ())] == 1
    assert 90 <= seen[("orderdesk_outbox_oldest_waiting_seconds", ())] < 100


async def test_every_answer_carries_a_request_id_and_a_given_one_is_kept(client):
    given = await client.get("/health", headers={"X-Request-ID": "lb-7f3a.91"})
    made = await client.get("/api/products/")
    refused = await client.get("/health", headers={"X-Request-ID": "two words\u00e9"[:9]})

    assert given.headers["X-Request-ID"] == "lb-7f3a.91"
    assert len(made.headers["X-Request-ID"]) == 32
    assert refused.headers["X-Request-ID"] != "two words"


def test_a_failure_that_repeats_is_logged_at_most_every_10_s_saying_how_many_were_held(caplog):
    now = [100.0]
    complaint = Throttled(logging.getLogger("orderdesk.test"), clock=lambda: now[0])

    with caplog.at_level(logging.ERROR):
        for second in range(25):  # a pass a second while the database is away
            now[0] = 100.0 + second
            try:
                raise ConnectionRefusedError("the database went away")
            except ConnectionRefusedError:
                complaint.exception("outbox pass failed")

    assert [r.getMessage() for r in caplog.records] == [
        "outbox pass failed", "outbox pass failed (9 more like it not logged)",
        "outbox pass failed (9 more like it not logged)"]
    assert all(r.exc_info for r in caplog.records)


async def test_metrics_count_sends_by_result_and_twilio_error_code(wa, admin):
    wa.twilio.reject_next(21211, to=ADMIN_PHONE)  # permanent: failed at once
    product = await make_product(wa.client, admin, stock=5)
    await place_order(wa.client, (product, 1))  # the admin's alert: refused
    await place_order(wa.client, (product, 1))  # the next one: sent

    async def counted():   # both sends answered (one pass sends them side by side; either may be recorded first)
        seen = samples(await (await wa.client.get("/metrics", headers=admin)).text())
        sent = seen.get(("orderdesk_sends_total", (("error_code", ""), ("result", "sent"))))
        failed = seen.get(("orderdesk_sends_total", (("error_code", "21211"), ("result", "failed"))))
        return sent and failed and seen
    seen = await eventually(counted)

    assert seen[("orderdesk_sends_total", (("error_code", ""), ("result", "sent")))] == 1
    assert seen[("orderdesk_sends_total", (("error_code", "21211"), ("result", "failed")))] == 1


async def test_metrics_count_job_runs_and_failures(uow):
    meters = Meters()

    async def broken(_tx):
        raise RuntimeError("the digest could not be built")

    await scheduler.run(uow, jobs.EXPIRY, jobs.expire_unpaid, meters)
    await scheduler.run(uow, jobs.DIGEST, broken, meters)

    seen = samples(generate_latest(meters.registry).decode())
    assert seen[("orderdesk_job_runs_total", (("job", jobs.EXPIRY.name), ("result", "ok")))] == 1
    assert seen[("orderdesk_job_runs_total", (("job", jobs.DIGEST.name), ("result", "failed")))] == 1
