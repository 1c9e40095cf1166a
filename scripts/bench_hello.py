#!/usr/bin/env python3
"""The ceiling for `make bench`: a bare aiohttp process answering GET /hello with "ok".

What one Python process with aiohttp serves when the handler does nothing, driven by the same
driver at the same concurrency as orderdesk; bench.py prints orderdesk's req/s over this one's.
    python scripts/bench_hello.py --port 8090      (binds 127.0.0.1 only)
"""
from __future__ import annotations

import argparse

from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/hello", hello)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
