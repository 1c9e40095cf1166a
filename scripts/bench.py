#!/usr/bin/env python3
"""Load benchmark for orderdesk: `make bench` (SQLite) or `make bench BENCH_ARGS=--postgres`.

Sets up a throw-away database (a temp SQLite file, or a fresh `orderdesk_bench_<random>` database on
the local PostgreSQL), migrates it, starts `orderdesk serve` on a free loopback port, and drives it
from a separate load-driver process (this file with `--driver`) with bounded concurrency through
three phases: create N orders, confirm them, list them page by page. Prints requests, errors
(non-2xx or no answer), requests/s and p50/p95/p99 latency per phase. It asserts nothing about
speed; a few consistency checks (stock, paging) are printed as notes. The server and the database
are cleaned up at the end, also on failure or Ctrl-C.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the only host this script ever talks to
PG = {"host": HOST, "port": 5432, "user": "postgres", "database": "postgres"}  # maintenance connection
PRODUCTS = 5
PAGE = 20
REQUEST_TIMEOUT_S = 30
MAX_ORDERS = 100_000  # keeps the stock we need under the API's 1,000,000 limit


# --- the load driver (runs in its own process: `bench.py --driver`, config on stdin) ------------

async def run_phase(count: int, concurrency: int, deadline: float, one) -> dict:
    """`count` calls of `one(i)` by `concurrency` workers; stops starting new ones at `deadline`."""
    latencies: list[float] = []
    failures: Counter = Counter()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count and time.monotonic() < deadline:
            i, next_index = next_index, next_index + 1
            started = time.perf_counter()
            try:
                status, body = await one(i)
                sample = None if 200 <= status < 300 else f"{status} {body[:160].decode(errors='replace')}"
            except Exception as exc:  # a timeout or a dropped connection is an error of this phase
                sample = f"no answer: {type(exc).__name__} {exc}"[:200]
            latencies.append((time.perf_counter() - started) * 1000)
            if sample:
                failures[sample] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"requests": len(latencies), "planned": count, "errors": sum(failures.values()),
            "seconds": time.perf_counter() - started, "latencies_ms": latencies,
            "error_samples": failures.most_common(5)}


async def drive(cfg: dict) -> dict:
    import aiohttp

    deadline = time.monotonic() + cfg["seconds"]
    n, concurrency = cfg["orders"], cfg["concurrency"]
    admin = {"Authorization": f"Bearer {cfg['token']}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(cfg["base_url"], timeout=timeout, connector=connector) as http:

        async def call(method: str, path: str, **kwargs) -> tuple[int, bytes]:
            async with http.request(method, path, **kwargs) as resp:
                return resp.status, await resp.read()

        # Setup (not measured): products with stock for every order (each takes <= 2 of a product).
        products = []
        for p in range(PRODUCTS):
            status, body = await call("POST", "/api/products/", headers=admin, json={
                "name": f"Bench product {p}", "barcode": f"BENCH-{cfg['run']}-{p}",
                "price": f"{100 * (p + 1)}.00", "stockQuantity": 2 * n + 10, "sizes": ["M"], "colors": ["Black"]})
            if status != 201:
                raise RuntimeError(f"POST /api/products/ answered {status}: {body[:300]!r}")
            products.append(json.loads(body))

        created: dict[int, dict] = {}  # index -> {"id", "items"}

        async def create(i: int) -> tuple[int, bytes]:
            rng = random.Random(i)
            lines = [(p, rng.randint(1, 2)) for p in rng.sample(products, rng.randint(1, 2))]
            total = sum(float(p["price"]) * q for p, q in lines)
            status, body = await call("POST", "/api/orders/", json={
                "customerName": f"Bench Customer {i}", "customerPhone": f"+25471{i % 10_000_000:07d}",
                "customerAddress": "Moi Ave 12",
                "items": [{"productId": p["id"], "quantity": q, "unitPrice": p["price"],
                           "selectedSize": "M", "selectedColor": "Black"} for p, q in lines],
                "total": f"{total:.2f}"})
            if status == 201:
                created[i] = {"id": json.loads(body)["id"], "items": [(p["id"], q) for p, q in lines]}
            return status, body

        confirmed: list[int] = []
        order_ids = []

        async def confirm(i: int) -> tuple[int, bytes]:
            status, body = await call("POST", f"/api/orders/{order_ids[i]}/confirm/", headers=admin)
            if status == 200:
                confirmed.append(i)
            return status, body

        seen: set[str] = set()
        counts: set[int] = set()

        async def list_page(i: int) -> tuple[int, bytes]:
            offset = (i * PAGE) % max(len(order_ids), 1)
            status, body = await call("GET", f"/api/orders/?limit={PAGE}&offset={offset}", headers=admin)
            if status == 200:
                page = json.loads(body)
                counts.add(page["count"])
                seen.update(o["id"] for o in page["results"])
            return status, body

        phases = {"create": await run_phase(n, concurrency, deadline, create)}
        indexes = sorted(created)
        order_ids = [created[i]["id"] for i in indexes]
        phases["confirm"] = await run_phase(len(order_ids), concurrency, deadline, confirm)
        phases["list"] = await run_phase(len(order_ids), concurrency, deadline, list_page)

        # Consistency notes (not assertions): stock taken equals what the confirmed orders asked for,
        # and walking the pages sees every order once. Skipped when a confirm went unanswered.
        notes = []
        unanswered = any(s.startswith("no answer") for s, _ in phases["confirm"]["error_samples"])
        want = Counter()
        for k in confirmed:
            for product_id, quantity in created[indexes[k]]["items"]:
                want[product_id] += quantity
        try:
            for p in products if not unanswered else []:
                status, body = await call("GET", f"/api/products/{p['id']}/")
                have = json.loads(body)["stockQuantity"] if status == 200 else f"HTTP {status}"
                if have != p["stockQuantity"] - want[p["id"]]:
                    notes.append(f"stock of {p['barcode']}: expected {p['stockQuantity'] - want[p['id']]} "
                                 f"after {len(confirmed)} confirms, got {have}")
        except Exception as exc:  # the server may be gone; the numbers above still stand
            notes.append(f"stock check skipped: {type(exc).__name__} {exc}")
        listed = phases["list"]
        if not listed["errors"] and listed["requests"] >= math.ceil(len(order_ids) / PAGE) and seen != set(order_ids):
            notes.append(f"paging saw {len(seen)} distinct orders of {len(order_ids)} created")
        if counts - {len(order_ids)}:
            notes.append(f"list count {sorted(counts)} differs from {len(order_ids)} orders created")
    return {"phases": phases, "notes": notes}


def driver_main() -> int:
    result = asyncio.run(drive(json.loads(sys.stdin.read())))
    json.dump(result, sys.stdout)
    return 0


# --- the orchestrator ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        return commit + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def orderdesk_cmd() -> list[str]:
    script = Path(sys.executable).parent / "orderdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orderdesk"]


async def pg_admin(*statements: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(**PG, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def print_report(args, meta: dict, result: dict) -> None:
    print()
    print(f"orderdesk bench  commit {meta['commit']}  database {meta['db']}  python {platform.python_version()}")
    print(f"orders {args.orders}  concurrency {args.concurrency}  products {PRODUCTS}  "
          f"list page size {PAGE}  driver: separate process, aiohttp")
    header = f"{'phase':<8} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, ph in result["phases"].items():
        lat = sorted(ph["latencies_ms"])
        rate = ph["requests"] / ph["seconds"] if ph["seconds"] > 0 else 0.0
        print(f"{name:<8} {ph['requests']:>9} {ph['errors']:>7} {rate:>9.1f} {percentile(lat, 50):>9.1f} "
              f"{percentile(lat, 95):>9.1f} {percentile(lat, 99):>9.1f}")
    for name, ph in result["phases"].items():
        if ph["requests"] < ph["planned"]:
            print(f"note: {name} stopped at the time limit after {ph['requests']} of {ph['planned']} requests")
        for sample, times in ph["error_samples"]:
            print(f"error: {name} x{times}: {sample}")
    for note in result["notes"]:
        print(f"note: {note}")


def server_log_problems(log_path: Path, limit: int = 8) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return [line for line in lines if " ERROR " in line or "Traceback" in line][:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="orders to create, confirm and list (default 500)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight at once (default 20)")
    parser.add_argument("--postgres", action="store_true", help=f"use a fresh database on {HOST}:5432")
    parser.add_argument("--timeout", type=float, default=300, help="global time limit in seconds (default 300)")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        return driver_main()
    if not 1 <= args.orders <= MAX_ORDERS or not 1 <= args.concurrency <= 1000 or not 10 <= args.timeout <= 3600:
        parser.error(f"--orders 1..{MAX_ORDERS}, --concurrency 1..1000, --timeout 10..3600")

    def on_sigterm(*_) -> None:
        print("bench stopped by SIGTERM; cleaning up", file=sys.stderr)
        sys.exit(143)  # raises SystemExit here, so the `finally` below stops the server and drops the database

    signal.signal(signal.SIGTERM, on_sigterm)
    deadline = time.monotonic() + args.timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"global time limit of {args.timeout:.0f}s reached")
        return left

    tmp = Path(tempfile.mkdtemp(prefix="orderdesk-bench-"))
    log_path = tmp / "server.log"
    pg_name, server, ok = None, None, False
    try:
        if args.postgres:
            pg_name = f"orderdesk_bench_{secrets.token_hex(5)}"
            version = asyncio.run(pg_admin(f'CREATE DATABASE "{pg_name}"'))
            url = f"postgresql+asyncpg://{PG['user']}@{HOST}:{PG['port']}/{pg_name}"
            db = f"postgresql {version} ({pg_name})"
        else:
            url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
            db = f"sqlite {sqlite3.sqlite_version}"
        port = free_port()
        # The server runs in the temp dir (no stray .env), with the console transport and no abuse limits.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TWILIO_", "RATE_LIMIT_")) and k != "MAX_PENDING_ORDERS_PER_PHONE"}
        env.update(DATABASE_URL=url, ORDERDESK_ENV="development", PUBLIC_BASE_URL=f"http://{HOST}:{port}")

        def cli(*argv: str) -> str:
            done = subprocess.run([*orderdesk_cmd(), *argv], env=env, cwd=tmp, capture_output=True, text=True,
                                  timeout=min(120, remaining()))
            if done.returncode != 0:
                raise RuntimeError(f"orderdesk {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
            return done.stdout

        print(f"database: {db}; migrating...", flush=True)
        cli("db", "upgrade")
        token = cli("token", "create", "--role", "admin", "--name", "bench").strip().splitlines()[-1]

        with open(log_path, "wb") as log:
            server = subprocess.Popen([*orderdesk_cmd(), "serve", "--host", HOST, "--port", str(port)],
                                      env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        base_url = f"http://{HOST}:{port}"
        health_deadline = time.monotonic() + min(30, remaining())
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode} before answering /health")
            try:
                with urllib.request.urlopen(f"{base_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > health_deadline:
                raise TimeoutError("the server did not answer /health within 30s")
            time.sleep(0.1)

        print(f"server up on {base_url}; driving {args.orders} orders at concurrency {args.concurrency}...",
              flush=True)
        config = {"base_url": base_url, "token": token, "orders": args.orders, "concurrency": args.concurrency,
                  "seconds": max(5.0, remaining() - 15), "run": secrets.token_hex(3)}
        done = subprocess.run([sys.executable, __file__, "--driver"], input=json.dumps(config), cwd=tmp,
                              stdout=subprocess.PIPE, text=True, timeout=remaining())
        if done.returncode != 0:
            raise RuntimeError(f"the load driver failed with exit code {done.returncode}")
        print_report(args, {"commit": git_commit(), "db": db}, json.loads(done.stdout))
        for line in server_log_problems(log_path):
            print(f"server log: {line}")
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} during the run")
        ok = True
        return 0
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)  # aiohttp shuts down gracefully on SIGTERM
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        tail = log_path.read_text(errors="replace").splitlines()[-30:] if log_path.exists() else []
        if not ok and tail:
            print("--- server log (last lines) ---", *tail, sep="\n", file=sys.stderr)
        if pg_name:
            try:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            except Exception as exc:
                print(f"could not drop database {pg_name}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
