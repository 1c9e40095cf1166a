"""Print the OpenAPI document exactly as the app serves it at GET /api/openapi.json.

Used by `make client` (to regenerate clients/typescript) and by the client's drift check. The app is
served in-process on a throwaway, migrated SQLite file, so nothing outside this process is touched.

    python scripts/openapi_dump.py [OUTPUT]      # stdout when OUTPUT is absent
"""
from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from core.migrate import upgrade  # noqa: E402
from core.settings import Settings  # noqa: E402
from webhooks.app import create_app  # noqa: E402


def render(document: dict) -> str:
    """The committed form: stable key order as served, two-space indent, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


async def fetch(database_url: str) -> dict:
    app = create_app(Settings(_env_file=None, database_url=database_url))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/openapi.json")
        assert response.status == 200, await response.text()
        return await response.json()


def served_document() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/openapi.db"
        upgrade(url)
        return asyncio.run(fetch(url))


def main(argv: list[str]) -> int:
    text = render(served_document())
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
