"""Round trips to PostgreSQL per write request (docs/performance.md): each is a wait and the work of
the server and of asyncpg (sending and decoding were half of the server's CPU under load), so each
write is as few as it can be. Counted on the wire, in what asyncpg writes to the server while a request is handled:
every Sync and every simple Query (BEGIN, COMMIT) is one round trip. Preparing a statement is not
counted: it happens once per statement and pooled connection (its Describe, and the type look-ups
asyncpg may make before the statement first runs)."""
import asyncio.selector_events
import contextvars
import struct

import pytest
from aiohttp import web

from tests.databases import postgres_only
from tests.helpers import make_product, order_body
from webhooks.app import create_app

_COUNTING: contextvars.ContextVar["Trips | None"] = contextvars.ContextVar("counting", default=None)


class Trips(list):
    """One request's round trips, each named by the first characters of its statement."""

    def __init__(self) -> None:
        super().__init__()
        self.preparing: bytes | None = None  # the statement being prepared, until it first runs
        self.parsed: bytes | None = None


class RoundTrips:
    """The round trips to PostgreSQL of each request the app handles, in `requests`."""

    def __init__(self, app: web.Application, monkeypatch) -> None:
        self.requests: list[Trips] = []
        self.names: dict[bytes, str] = {}
        app.middlewares.append(self._middleware)
        transport = asyncio.selector_events._SelectorSocketTransport  # the tests' event loop's
        write = transport.write

        def counted(transport_self, data):
            trips = _COUNTING.get()
            if trips is not None and type(transport_self._protocol).__module__.startswith("asyncpg"):
                self._read(bytes(data), trips)
            return write(transport_self, data)

        monkeypatch.setattr(transport, "write", counted)

    @web.middleware
    async def _middleware(self, request, handler):
        trips = Trips()
        self.requests.append(trips)
        token = _COUNTING.set(trips)
        try:
            return await handler(request)
        finally:
            _COUNTING.reset(token)

    def _read(self, data: bytes, trips: Trips) -> None:
        """The messages of one write (asyncpg writes whole messages): type byte, length, body."""
        statement = None
        while len(data) >= 5:
            kind, (length,) = data[:1], struct.unpack("!i", data[1:5])
            body, data = data[5:1 + length], data[1 + length:]
            if kind == b"P":  # Parse: a statement prepared under a name
                trips.parsed, _, rest = body.partition(b"\0")
                self.names[trips.parsed] = rest.partition(b"\0")[0].decode()[:40]
            elif kind == b"H" and trips.preparing is None:  # Flush: the statement's Describe is answered
                trips.preparing = trips.parsed
            elif kind == b"B":  # Bind: a prepared statement run with values
                statement = body.partition(b"\0")[2].partition(b"\0")[0]
                if statement == trips.preparing:
                    trips.preparing = None
            elif kind == b"S" and trips.preparing is None:  # Sync: the server answers all sent before it
                trips.append(self.names.get(statement, "?"))
            elif kind == b"Q":  # a simple query, answered at once
                trips.append(body.rstrip(b"\0").decode()[:40])


@pytest.fixture
async def counted(aiohttp_client, settings, clock, monkeypatch):
    """The app, with the round trips of each request it handles counted."""
    app = create_app(settings, clock=clock)
    trips = RoundTrips(app, monkeypatch)
    return await aiohttp_client(app), trips


async def _round(client, trips: RoundTrips, admin, products) -> dict[str, list[str]]:
    """A create, its confirm, a status change and a cancel with restock: the round trips of each."""
    async def request(method: str, path: str, **kwargs) -> dict:
        response = await client.request(method, path, **kwargs)
        assert response.status in (200, 201), await response.text()
        return await response.json()

    seen = {}
    order = await request("POST", "/api/orders/", json=order_body((products[0], 2), (products[1], 1)))
    seen["create"] = trips.requests[-1]
    path = f"/api/orders/{order['orderReference']}/"
    for name, method, to, body in (("confirm", "POST", "confirm/", None),
                                   ("status", "PATCH", "", {"status": "processing"}),
                                   ("cancel", "POST", "cancel/", {"reason": "gone"})):
        await request(method, path + to, headers=admin, json=body)
        seen[name] = trips.requests[-1]
    return seen


@postgres_only
async def test_each_write_request_is_as_few_round_trips_as_pinned(counted, admin):
    client, trips = counted
    products = [await make_product(client, admin, stock=100) for _ in range(2)]
    await _round(client, trips, admin, products)  # each statement's first run takes SQLAlchemy's path

    seen = await _round(client, trips, admin, products)

    # create: BEGIN, the products, the order with its lines, history and the admins' alert, COMMIT.
    # confirm: BEGIN, the token, the order locked with its lines, the products' guarded UPDATEs (sent
    # together), the order's UPDATE with its history, message and stock movements, COMMIT. A status
    # change takes no stock; a cancel of a confirmed order puts it back.
    assert {name: len(round_trips) for name, round_trips in seen.items()} == {
        "create": 4, "confirm": 6, "status": 5, "cancel": 6}, seen
    assert seen["confirm"][0].startswith("BEGIN") and seen["confirm"][-1].startswith("COMMIT"), seen
