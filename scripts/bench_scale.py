"""`make bench --scale N`: fill a migrated database with a shop's worth of history, and time the jobs.

bulk_load() writes orders (1-3 lines each, a mix of statuses and payment states, their history
rows), their customers and three WhatsApp messages per order (inbound and outbound) straight into
the tables of core/models.py with executemany, in chunks; it never goes through the API. It can be
called twice on one database (1,000 orders, then the rest up to N): order numbers continue.

time_jobs() runs each scheduled job in this process through webhooks/scheduler.run, as the
server's scheduler does (once cold, once warm), and times every transaction from BEGIN to COMMIT (or ROLLBACK) with the
engine's `begin`/`commit`/`rollback` events. On SQLite a write transaction holds the database's only
write lock for that long.
"""
from __future__ import annotations

import hashlib
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import event, insert, text

from core.models import Customer, InboundMessage, Order, OrderEvent, OrderItem, OutboundMessage, Product

PRODUCTS = 20
CHUNK = 2_000  # orders per executemany round (with their lines, history, messages, customers)
DAYS = 90  # orders are spread over the last DAYS days
FIRST = ("Amina", "Brian", "Cynthia", "David", "Esther", "Faith", "George", "Halima", "Ian", "Joy",
         "Kevin", "Lucy", "Mercy", "Njeri", "Otieno", "Peter", "Grace", "Rose", "Samuel", "Wanjiru")
LAST = ("Otieno", "Kamau", "Wanjiku", "Mwangi", "Achieng", "Kiptoo", "Njoroge", "Mutua", "Chebet",
        "Omondi", "Wambui", "Kariuki", "Nyambura", "Barasa", "Akinyi", "Koech")
# status -> (share of orders, the transitions after creation, as (kind, from, to))
STATUSES = {
    "pending": (30, ()),
    "confirmed": (20, (("order_confirmed", "pending", "confirmed"),)),
    "processing": (10, (("order_confirmed", "pending", "confirmed"), ("order_processing", "confirmed", "processing"))),
    "shipped": (15, (("order_confirmed", "pending", "confirmed"), ("order_shipped", "confirmed", "shipped"))),
    "delivered": (20, (("order_confirmed", "pending", "confirmed"), ("order_shipped", "confirmed", "shipped"),
                       ("order_delivered", "shipped", "delivered"))),
    "cancelled": (5, (("order_cancelled", "pending", "cancelled"),)),
}
STATUS_CHOICES = [s for s, (share, _) in STATUSES.items() for _ in range(share)]
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 36)
        out = _B36[r] + out
    return out


def phone_of(i: int) -> str:
    """Order i's customer: two orders per customer, all valid Kenyan mobile numbers."""
    return f"+25471{i // 2:07d}"


def reference_of(i: int, created: datetime) -> str:
    return f"LEG-{int(created.timestamp())}-{base36(i, 4)}"  # unique tail for i < 36**4


def order_rows(i: int, now: datetime, products: list[dict]) -> dict[str, list[dict]]:
    """Order i with its lines, history, messages (and its customer when i is the first of theirs)."""
    rng = random.Random(i)
    created = now - timedelta(seconds=rng.uniform(3600 * 1.5, DAYS * 86400))
    status = rng.choice(STATUS_CHOICES)
    payment = ("reported" if rng.random() < 0.2 else "unpaid") if status == "pending" else \
        ("unpaid" if status == "cancelled" else "verified")
    order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    phone, reference = phone_of(i), reference_of(i, created)
    lines = [(p, rng.randint(1, 3)) for p in rng.sample(products, rng.randint(1, 3))]
    total = sum((p["price"] * q for p, q in lines), Decimal("0.00"))
    steps = STATUSES[status][1]
    updated = created + timedelta(hours=len(steps) * 6)
    rows: dict[str, list[dict]] = {name_: [] for name_ in ("orders", "items", "history", "customers", "inbound",
                                                            "outbound")}
    rows["orders"].append({
        "id": order_id, "reference": reference, "customer_name": name, "customer_phone": phone,
        "customer_address": f"Moi Ave {i % 200}", "notes": "", "status": status, "payment_status": payment,
        "total": total, "item_count": sum(q for _, q in lines),
        "content_hash": hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
        "stock_taken": status in ("confirmed", "processing", "shipped", "delivered"),
        "created_at": created, "updated_at": updated})
    rows["items"] += [{"order_id": order_id, "position": k, "product_id": p["id"], "product_name": p["name"],
                       "product_barcode": p["barcode"], "product_image": None, "quantity": q, "unit_price": p["price"],
                       "selected_size": "M", "selected_color": "Black"} for k, (p, q) in enumerate(lines)]
    rows["history"].append({"order_id": order_id, "kind": "order_created", "from_status": None, "to_status": "pending",
                            "actor": "storefront", "note": "", "at": created})
    rows["history"] += [{"order_id": order_id, "kind": kind, "from_status": old, "to_status": new,
                         "actor": "system" if new == "cancelled" else "admin:bench", "note": "",
                         "at": created + timedelta(hours=6 * (k + 1))} for k, (kind, old, new) in enumerate(steps)]
    if i % 2 == 0:
        rows["customers"].append({"phone": phone, "wa_id": phone[1:], "profile_name": name, "current_order_id": None,
                                  "opted_out": False, "last_inbound_at": created + timedelta(minutes=1),
                                  "quiet_until": None, "created_at": created})

    def inbound(k: int, body: str, at: datetime) -> dict:
        return {"message_sid": f"SM{3 * i + k:032x}", "from_phone": f"whatsapp:{phone}", "wa_id": phone[1:],
                "profile_name": name, "body": body, "media": [], "order_id": order_id, "received_at": at,
                "processed_at": at, "error": None}

    def outbound(k: int, kind: str, body: str, at: datetime) -> dict:
        return {"key": f"bench:{i}:{k}", "kind": kind, "to_phone": phone, "body": body, "variables": {},
                "content_sid": None, "content_variables": None, "order_id": order_id, "status": "delivered",
                "twilio_sid": f"SM{(1 << 127) + 3 * i + k:032x}", "error_code": None, "error_message": None,
                "attempts": 1, "next_attempt_at": at, "claimed_until": None, "created_at": at, "sent_at": at,
                "updated_at": at}

    rows["inbound"].append(inbound(0, f"Hi! I'd like to order. Order reference: {reference}",
                                   created + timedelta(minutes=1)))
    rows["outbound"].append(outbound(1, "order_summary", f"Thanks {name}! Your order {reference}: {total} KES.",
                                     created + timedelta(minutes=1, seconds=1)))
    if status == "pending":
        rows["inbound"].append(inbound(2, f"I have paid {total} for {reference}", created + timedelta(minutes=30)))
    else:
        rows["outbound"].append(outbound(2, "order_status", f"Your order {reference} is now {status}.", updated))
    return rows


async def _execute(conn, statement, rows: list[dict] | None = None):
    """On SQLite on the driver's own connection, as core/uow.py runs it (the engine's SQLite dialect is
    synchronous behind SQLAlchemy's asyncio API); a list of rows is one executemany."""
    if conn.dialect.name == "sqlite":
        return conn.sync_connection.execute(statement, rows)
    return await conn.execute(statement, rows)


async def bulk_load(url: str, start: int, count: int) -> dict:
    """Orders start..start+count-1 (and their rows) into the migrated database at `url`."""
    from core.db import make_engine

    engine = make_engine(url)
    began, written = time.perf_counter(), 0
    now = datetime.now(timezone.utc)
    tables = {"orders": Order.__table__, "customers": Customer.__table__, "items": OrderItem.__table__,
              "history": OrderEvent.__table__, "inbound": InboundMessage.__table__,
              "outbound": OutboundMessage.__table__}
    try:
        async with engine.begin() as conn:
            products = [{"id": f"bench-product-{p}", "name": f"Bench product {p}", "barcode": f"BENCH-SCALE-{p}",
                         "price": Decimal(100 * (p + 1)).quantize(Decimal("0.01"))} for p in range(PRODUCTS)]
            if start == 0:
                await _execute(conn, insert(Product.__table__), [
                    {**p, "discounted_price": None, "stock_quantity": 1000, "sizes": ["M"], "colors": ["Black"],
                     "image_urls": [], "description": "", "category": "bench", "created_at": now, "updated_at": now}
                    for p in products])
        for chunk in range(start, start + count, CHUNK):
            batch: dict[str, list[dict]] = {name: [] for name in tables}
            for i in range(chunk, min(chunk + CHUNK, start + count)):
                for name, rows in order_rows(i, now, products).items():
                    batch[name] += rows
            async with engine.begin() as conn:  # parents first: the foreign keys are checked
                for name, table in tables.items():
                    if batch[name]:
                        await _execute(conn, insert(table), batch[name])
                        written += len(batch[name])
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:  # what autovacuum would have done by now in a live shop
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE"))
        loaded = time.perf_counter() - began
        indexing = await _index_for_search(engine, url)
    finally:
        await engine.dispose()
    return {"orders": count, "rows": written, "seconds": loaded, "search_index": indexing}


async def _index_for_search(engine, url: str) -> dict:
    """What a server's scheduler does with orders it did not write itself: put them into the search
    index, in its chunks (SQLite), or fold the trigram index's pending list in (PostgreSQL)
    (core/search_index.py); a server running meanwhile may do some of it first."""
    from core import search_index
    from core.db import make_sessionmaker
    from core.settings import Settings
    from core.uow import UnitOfWork

    settings = Settings(_env_file=None, database_url=url, twilio_account_sid=None, twilio_auth_token=None)
    spans = write_spans(engine)
    began = time.perf_counter()
    indexed = await search_index.catch_up(UnitOfWork(make_sessionmaker(engine), settings))
    return {"indexed": indexed, "transactions": len(spans), "longest_ms": max(spans, default=0.0),
            "seconds": time.perf_counter() - began}


def write_spans(engine) -> list[float]:
    """A list that gets the length in ms of each write transaction `engine` runs from now on: BEGIN
    (on SQLite, once the write lock is held) to COMMIT or ROLLBACK. Read-only ones hold no lock (WAL)."""
    from core.db import READONLY

    spans: list[float] = []

    # Registered after the engine's own `begin` listener (which sends BEGIN IMMEDIATE on SQLite), so
    # a span starts once the write lock is held and ends when COMMIT or ROLLBACK is sent.
    @event.listens_for(engine.sync_engine, "begin")
    def _began(conn) -> None:
        if not conn.get_execution_options().get(READONLY):
            conn.info["bench_began"] = time.perf_counter()

    def _ended(conn) -> None:
        began = conn.info.pop("bench_began", None)
        if began is not None:
            spans.append((time.perf_counter() - began) * 1000)

    event.listen(engine.sync_engine, "commit", _ended)
    event.listen(engine.sync_engine, "rollback", _ended)
    return spans


async def probes(url: str) -> dict:
    """Search terms and references taken from the orders in the database (call it while it holds only
    the small set, so every probe finds something at both sizes)."""
    from sqlalchemy import select

    from core.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await _execute(conn, select(Order.reference, Order.customer_phone, Order.customer_name)
                                       .order_by(Order.reference).limit(50))).all()
    finally:
        await engine.dispose()
    return {"references": [r.reference for r in rows], "phone": rows[7].customer_phone[-7:],
            "name": rows[3].customer_name.split()[1][:5].lower(), "reference": rows[11].reference[-7:].lower()}


async def time_jobs(url: str, admin_phone: str) -> list[dict]:
    """Each job twice, with settings that switch it on: once cold (this process has compiled none of
    its statements yet, as after a server's start), then once warm with the clock a day on (a new
    due time; the reminders and the expiry take the next batch). The longest transaction of each run, in ms."""
    import gc

    from bot import replies
    from core import jobs
    from core.clock import FakeClock
    from core.db import make_engine, make_sessionmaker
    from core.settings import Settings
    from core.uow import UnitOfWork
    from orderdesk.cli import COLLECT_THRESHOLDS
    from webhooks import scheduler

    settings = Settings(_env_file=None, database_url=url, payment_reminder_after="1s", pending_expiry_after="1h",
                        daily_digest_at="20:00", admin_phones=admin_phone, twilio_account_sid=None,
                        twilio_auth_token=None, rate_limit_inbound_per_minute=None)
    engine = make_engine(url, autocheckpoint=False)  # as the server's: no commit copies the log back (core/wal.py)
    spans = write_spans(engine)
    clock = FakeClock()
    uow = UnitOfWork(make_sessionmaker(engine), settings, clock, render=replies.render)
    gc.collect()  # and collect as the server does (orderdesk/cli.py cmd_serve), whose jobs run in its process
    gc.freeze()
    gc.set_threshold(*COLLECT_THRESHOLDS)
    results = {job.name: {"job": job.name, "runs": []} for job in (jobs.REMINDERS, jobs.EXPIRY, jobs.DIGEST)}
    try:
        for _run in ("cold", "warm"):
            for job, operation in ((jobs.REMINDERS, jobs.remind_unpaid), (jobs.EXPIRY, jobs.expire_unpaid),
                                   (jobs.DIGEST, jobs.daily_digest)):
                spans.clear()
                began = time.perf_counter()
                result = await scheduler.run(uow, job, operation)
                results[job.name]["runs"].append({
                    "result": result, "transactions": len(spans), "longest_ms": max(spans, default=float("nan")),
                    "run_ms": (time.perf_counter() - began) * 1000})
            clock.advance(days=1)
    finally:
        await engine.dispose()
    return list(results.values())
