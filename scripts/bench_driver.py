#!/usr/bin/env python3
"""The load driver of `make bench`: run by bench.py in its own process, config as JSON on stdin,
results as JSON on stdout. Only ever talks to the 127.0.0.1 URLs it is given.

task "orders": products (not measured), then the closed-loop phases asked for, each with
  `concurrency` workers, bounded by a request count and the driver's deadline:
    create / confirm / list   the phases bench.py has always run (one orderdesk process)
    ceiling                   GET /hello on the bare aiohttp process, for `ceiling_seconds`
    create2                   create again with the workers split across two orderdesk processes
task "scale": one request at a time (C=1): a short warm-up, then up to `requests` of each probe,
  at most `probe_seconds` each; latencies only.
"""
from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

PRODUCTS = 5
PAGE = 20
REQUEST_TIMEOUT_S = 30
WARM_UP = 10  # scale probes: requests each, not measured
BIG = 10_000_000  # request count of phases bounded by time only


def check_local(*urls: str) -> None:
    for url in urls:
        if url and urlsplit(url).hostname != "127.0.0.1":
            raise SystemExit(f"refusing to drive {url}: only 127.0.0.1 is ever targeted")


def is_2xx(status: int, _body: bytes) -> bool:
    return 200 <= status < 300


async def run_phase(count: int, concurrency: int, deadline: float, one, ok=is_2xx) -> dict:
    """`count` calls of `one(i, worker)` by `concurrency` workers; stops starting new ones at `deadline`
    (monotonic). A call fails when it raises (no answer) or `ok(status, body)` is false."""
    latencies: list[float] = []
    failures: Counter = Counter()
    next_index = 0

    async def worker(w: int) -> None:
        nonlocal next_index
        while next_index < count and time.monotonic() < deadline:
            i, next_index = next_index, next_index + 1
            started = time.perf_counter()
            try:
                status, body = await one(i, w)
                sample = None if ok(status, body) else f"{status} {body[:160].decode(errors='replace')}"
            except Exception as exc:  # a timeout or a dropped connection is an error of this phase
                sample = f"no answer: {type(exc).__name__} {exc}"[:200]
            latencies.append((time.perf_counter() - started) * 1000)
            if sample:
                failures[sample] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return {"requests": len(latencies), "planned": count, "errors": sum(failures.values()),
            "seconds": time.perf_counter() - started, "latencies_ms": latencies,
            "error_samples": failures.most_common(5)}


def session(base_url: str, limit: int):
    import aiohttp

    return aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                 connector=aiohttp.TCPConnector(limit=limit))


async def call(http, method: str, path: str, **kwargs) -> tuple[int, bytes]:
    async with http.request(method, path, **kwargs) as resp:
        return resp.status, await resp.read()


async def drive_orders(cfg: dict) -> dict:
    deadline = time.monotonic() + cfg["seconds"]
    concurrency, wanted = cfg["concurrency"], cfg["phases"]
    phases: dict[str, dict] = {}
    notes: list[str] = []
    if wanted & {"create", "create2"}:
        admin = {"Authorization": f"Bearer {cfg['token']}"}
        async with session(cfg["base_url"], concurrency) as http:
            await order_phases(http, cfg, admin, phases, notes, deadline)
    if "ceiling" in wanted:
        async with session(cfg["hello_url"], concurrency) as hello:
            async def get_hello(_i: int, _w: int) -> tuple[int, bytes]:
                return await call(hello, "GET", "/hello")

            phases["ceiling"] = await run_phase(
                BIG, concurrency, min(deadline, time.monotonic() + cfg["ceiling_seconds"]), get_hello,
                ok=lambda status, body: status == 200 and body == b"ok")
    return {"phases": phases, "notes": notes}


async def order_phases(http, cfg: dict, admin: dict, phases: dict, notes: list[str], deadline: float) -> None:
    n, concurrency, wanted = cfg["orders"], cfg["concurrency"], cfg["phases"]
    # Setup (not measured): products with stock for every order (each takes <= 2 of a product).
    products = []
    for p in range(PRODUCTS):
        status, body = await call(http, "POST", "/api/products/", headers=admin, json={
            "name": f"Bench product {p}", "barcode": f"BENCH-{cfg['run']}-{p}",
            "price": f"{100 * (p + 1)}.00", "stockQuantity": 2 * n + 10, "sizes": ["M"], "colors": ["Black"]})
        if status != 201:
            raise RuntimeError(f"POST /api/products/ answered {status}: {body[:300]!r}")
        products.append(json.loads(body))

    created: dict[int, dict] = {}  # index -> {"id", "items"}

    def new_order(i: int) -> tuple[dict, list]:
        rng = random.Random(i)
        lines = [(p, rng.randint(1, 2)) for p in rng.sample(products, rng.randint(1, 2))]
        total = sum(float(p["price"]) * q for p, q in lines)
        return {"customerName": f"Bench Customer {i}", "customerPhone": f"+25471{i % 10_000_000:07d}",
                "customerAddress": "Moi Ave 12",
                "items": [{"productId": p["id"], "quantity": q, "unitPrice": p["price"],
                           "selectedSize": "M", "selectedColor": "Black"} for p, q in lines],
                "total": f"{total:.2f}"}, lines

    async def create(i: int, _w: int) -> tuple[int, bytes]:
        order, lines = new_order(i)
        status, body = await call(http, "POST", "/api/orders/", json=order)
        if status == 201:
            created[i] = {"id": json.loads(body)["id"], "items": [(p["id"], q) for p, q in lines]}
        return status, body

    confirmed: list[int] = []
    order_ids: list[str] = []

    async def confirm(i: int, _w: int) -> tuple[int, bytes]:
        status, body = await call(http, "POST", f"/api/orders/{order_ids[i]}/confirm/", headers=admin)
        if status == 200:
            confirmed.append(i)
        return status, body

    seen: set[str] = set()
    counts: set[int] = set()

    async def list_page(i: int, _w: int) -> tuple[int, bytes]:
        offset = (i * PAGE) % max(len(order_ids), 1)
        status, body = await call(http, "GET", f"/api/orders/?limit={PAGE}&offset={offset}", headers=admin)
        if status == 200:
            page = json.loads(body)
            counts.add(page["count"])
            seen.update(o["id"] for o in page["results"])
        return status, body

    if "create" in wanted:
        phases["create"] = await run_phase(n, concurrency, deadline, create)
        indexes = sorted(created)
        order_ids = [created[i]["id"] for i in indexes]
        phases["confirm"] = await run_phase(len(order_ids), concurrency, deadline, confirm)
        phases["list"] = await run_phase(len(order_ids), concurrency, deadline, list_page)
        check_paging(phases["list"], order_ids, seen, counts, notes)
        await check_stock(http, phases, products, created, indexes, confirmed, notes)

    if "create2" in wanted:
        # The same create phase again (new customers), worker w posting to process w % 2.
        async with session(cfg["second_url"], concurrency) as second:
            targets, per_process = (http, second), Counter()
            # Not measured: a few orders on each, so neither process starts the phase cold.
            await asyncio.gather(*(call(targets[k % 2], "POST", "/api/orders/", json=new_order(2 * n + k)[0])
                                   for k in range(2 * concurrency)))

            async def create_on_both(i: int, w: int) -> tuple[int, bytes]:
                per_process[w % 2] += 1
                order, _ = new_order(n + i)
                return await call(targets[w % 2], "POST", "/api/orders/", json=order)

            phases["create2"] = await run_phase(n, concurrency, deadline, create_on_both)
            notes.append(f"create2: {per_process[0]} requests to process 1, {per_process[1]} to process 2, "
                         f"after {concurrency} unmeasured creates on each")


def check_paging(listed: dict, order_ids: list[str], seen: set[str], counts: set[int], notes: list[str]) -> None:
    """Paging saw every order once; the count is what was created. Notes, not assertions."""
    if not listed["errors"] and listed["requests"] >= math.ceil(len(order_ids) / PAGE) and seen != set(order_ids):
        notes.append(f"paging saw {len(seen)} distinct orders of {len(order_ids)} created")
    if counts - {len(order_ids)}:
        notes.append(f"list count {sorted(counts)} differs from {len(order_ids)} orders created")


async def check_stock(http, phases, products, created, indexes, confirmed, notes) -> None:
    """Stock taken equals what the confirmed orders asked for. Skipped when a confirm went unanswered."""
    if any(s.startswith("no answer") for s, _ in phases["confirm"]["error_samples"]):
        return
    want = Counter()
    for k in confirmed:
        for product_id, quantity in created[indexes[k]]["items"]:
            want[product_id] += quantity
    try:
        for p in products:
            status, body = await call(http, "GET", f"/api/products/{p['id']}/")
            have = json.loads(body)["stockQuantity"] if status == 200 else f"HTTP {status}"
            if have != p["stockQuantity"] - want[p["id"]]:
                notes.append(f"stock of {p['barcode']}: expected {p['stockQuantity'] - want[p['id']]} "
                             f"after {len(confirmed)} confirms, got {have}")
    except Exception as exc:  # the server may be gone; the numbers above still stand
        notes.append(f"stock check skipped: {type(exc).__name__} {exc}")


async def drive_scale(cfg: dict) -> dict:
    """Each probe (label, path, needs admin) one request at a time: warm-up, then timed requests."""
    admin = {"Authorization": f"Bearer {cfg['token']}"}
    results = {}
    async with session(cfg["base_url"], 1) as http:
        for label, paths, needs_admin in cfg["probes"]:
            headers = admin if needs_admin else None
            for k in range(WARM_UP):
                await call(http, "GET", paths[k % len(paths)], headers=headers)
            deadline = time.monotonic() + cfg["probe_seconds"]

            async def probe(i: int, _w: int, paths=paths, headers=headers) -> tuple[int, bytes]:
                return await call(http, "GET", paths[i % len(paths)], headers=headers)

            results[label] = await run_phase(cfg["requests"], 1, deadline, probe)
    return {"probes": results}


def main() -> int:
    cfg = json.loads(sys.stdin.read())
    check_local(cfg.get("base_url"), cfg.get("second_url"), cfg.get("hello_url"))
    if cfg["task"] == "orders":
        cfg["phases"] = set(cfg["phases"])
        result = asyncio.run(drive_orders(cfg))
    elif cfg["task"] == "scale":
        result = asyncio.run(drive_scale(cfg))
    else:
        raise SystemExit(f"unknown task {cfg['task']!r}")
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
