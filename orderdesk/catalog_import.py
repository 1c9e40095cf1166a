"""`orderdesk catalog import FILE|URL [--stock]`: fetch the product list, import it in one transaction,
print the report. The rules are core's (core/catalog_import.py); this is the door."""
from __future__ import annotations

import sys
from pathlib import Path

import aiohttp

from core import catalog_import
from core.errors import DomainError
from core.settings import Settings


async def read_source(source: str) -> str:
    """The text of a file, or of the answer to a GET on an http(s) URL."""
    if source.startswith(("http://", "https://")):
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(source, headers={"Accept": "application/json, text/csv"}) as response:
                if response.status != 200:
                    raise catalog_import.UnreadableCatalog(f"{source} answered {response.status} {response.reason}")
                return await response.text()
    return Path(source).read_text(encoding="utf-8")


async def run(settings: Settings, source: str, stock_too: bool) -> int:
    """0 when every row went in, 1 when some were rejected (the rest still went in), 2 when nothing could."""
    from core.db import make_engine, make_sessionmaker
    from core.uow import UnitOfWork

    try:
        found = catalog_import.read_rows(await read_source(source))
    except (OSError, UnicodeDecodeError, aiohttp.ClientError, TimeoutError, catalog_import.UnreadableCatalog) as exc:
        print(f"cannot read {source}: {_why(exc)}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        async with UnitOfWork(make_sessionmaker(engine), settings)() as tx:
            report = await catalog_import.import_catalog(tx, found.rows, stock_too=stock_too,
                                                         first_row=found.first_row)
            await tx.commit()
    except DomainError as exc:
        print(f"import stopped, nothing was written: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    for line in report.lines():
        print(line)
    return 1 if report.rejected else 0


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text (save the spreadsheet as 'CSV UTF-8')"
    if isinstance(exc, TimeoutError):
        return "no answer within 60 seconds"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
