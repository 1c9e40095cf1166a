"""`orderdesk catalog import FILE|URL [--stock]` (CONTRACT §2): the old backend's catalog moves over with
its ids, safely again and again, stock untouched unless asked, and every refused row says why."""
import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from core import catalog, catalog_import
from core.models import Product, StockMovement
from tests.databases import sqlite_only

ORDERDESK = Path(sys.executable).with_name("orderdesk")

# What the Django backend's GET /api/products/ answered: integer ids, numbers for price and quantity.
OLD_CATALOG = [
    {"id": 17, "name": "Classic Oxford Shirt", "description": "Cotton oxford, button-down collar.",
     "barcode": "6001234500017", "category": "shirts", "price": 1500, "discountedPrice": None, "quantity": 25,
     "inStock": True, "sizes": ["S", "M", "L"], "colors": ["White", "Blue"],
     "imagePaths": ["/media/products/oxford-back.jpg", "/media/products/oxford.jpg"],
     "primaryImage": "/media/products/oxford.jpg",
     "createdAt": "2025-06-01T10:00:00.123456Z", "updatedAt": "2025-07-01T10:00:00Z"},
    {"id": 18, "name": "Slim Chinos", "description": "Stretch cotton.", "barcode": "6001234500024",
     "category": "trousers", "price": 2400.5, "discountedPrice": 1999.99, "quantity": 12, "inStock": True,
     "sizes": [30, 32, 34], "colors": ["Khaki"], "imagePaths": [], "primaryImage": None,
     "createdAt": "2025-06-02T10:00:00Z", "updatedAt": "2025-06-02T10:00:00Z"},
    {"id": "kikoi-4", "name": "Kikoi Beach Shorts", "description": "", "barcode": "6001234500031",
     "category": "shorts", "price": "1200.00", "discountedPrice": None, "quantity": 0, "inStock": False,
     "sizes": [], "colors": ["Striped"], "imagePaths": ["/media/products/kikoi.jpg"], "primaryImage": None,
     "createdAt": "2025-06-03T10:00:00Z", "updatedAt": "2025-06-03T10:00:00Z"},
]
COLUMNS = list(OLD_CATALOG[0])


def as_csv(products: list[dict], lists_as_json: bool = False) -> str:
    """The same catalog as a spreadsheet export: lists as JSON text or as `S, M, L`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for p in products:
        row = {}
        for key in COLUMNS:
            value = p[key]
            if isinstance(value, list):
                value = json.dumps(value) if lists_as_json else ", ".join(str(v) for v in value)
            row[key] = "" if value is None else value
        writer.writerow(row)
    return out.getvalue()


async def run_import(uow, rows, *, stock_too=False) -> catalog_import.ImportReport:
    async with uow() as tx:
        report = await catalog_import.import_catalog(tx, rows, stock_too=stock_too)
        await tx.commit()
    return report


async def product(uow, product_id: str) -> Product:
    async with uow() as tx:
        return await catalog.get_product(tx, product_id)


async def movements(uow) -> int:
    async with uow() as tx:
        return await tx.session.scalar(select(func.count()).select_from(StockMovement))


def counts(report) -> tuple[int, int, int, int]:
    return len(report.created), len(report.updated), len(report.unchanged), len(report.rejected)


# --- the rules, on both databases -------------------------------------------------------------

async def test_a_catalog_moves_in_with_its_ids(uow):
    report = await run_import(uow, OLD_CATALOG)

    assert counts(report) == (3, 0, 0, 0)
    assert report.created == ["17", "18", "kikoi-4"]
    shirt = await product(uow, "17")
    assert (shirt.name, shirt.barcode, shirt.price, shirt.stock_quantity) == (
        "Classic Oxford Shirt", "6001234500017", Decimal("1500.00"), 25)
    assert (shirt.sizes, shirt.colors, shirt.category) == (["S", "M", "L"], ["White", "Blue"], "shirts")


async def test_integer_ids_become_their_decimal_string(uow):
    await run_import(uow, [{**OLD_CATALOG[0], "id": 1700}])

    assert (await product(uow, "1700")).name == "Classic Oxford Shirt"


async def test_prices_and_discounts_keep_their_cents(uow):
    await run_import(uow, OLD_CATALOG)

    chinos = await product(uow, "18")
    assert (chinos.price, chinos.discounted_price) == (Decimal("2400.50"), Decimal("1999.99"))
    assert chinos.sizes == ["30", "32", "34"]  # numbers in a list of sizes are sizes all the same


async def test_a_discounted_price_of_0_is_kept_as_no_discount_and_sells_at_the_price(uow, client, admin):
    await run_import(uow, [{**OLD_CATALOG[0], "discountedPrice": 0}, {**OLD_CATALOG[1], "discountedPrice": "0.00"}])

    shirt = await product(uow, "17")
    order = await client.post("/api/orders/", json={
        "customerName": "Amina", "customerPhone": "0712 345 678", "items": [{"productId": "17", "quantity": 1}]})
    assert shirt.discounted_price is None and (await product(uow, "18")).discounted_price is None
    assert (await order.json())["total"] == "1500.00"


STOREFRONT_EXTRAS = {"subcategory": "Oxford", "brand": "Lego", "rating": 4.5, "reviewCount": 12, "minQuantity": 1,
                     "sizeQuantities": {"S": 5, "M": 12, "L": 8}}


async def test_the_storefronts_catalog_fields_move_in_too(uow):
    await run_import(uow, [{**OLD_CATALOG[0], **STOREFRONT_EXTRAS}])

    shirt = await product(uow, "17")
    assert (shirt.subcategory, shirt.brand, shirt.rating, shirt.review_count, shirt.min_quantity,
            shirt.size_quantities) == ("Oxford", "Lego", Decimal("4.50"), 12, 1, {"S": 5, "M": 12, "L": 8})
    again = await run_import(uow, [{**OLD_CATALOG[0], **STOREFRONT_EXTRAS}])
    assert counts(again) == (0, 0, 1, 0)


@sqlite_only
async def test_the_storefronts_catalog_fields_come_from_csv_cells_too(uow):
    row = {**OLD_CATALOG[0], **STOREFRONT_EXTRAS, "sizeQuantities": json.dumps(STOREFRONT_EXTRAS["sizeQuantities"])}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow({k: (json.dumps(v) if isinstance(v, list) else ("" if v is None else v)) for k, v in row.items()})

    await run_import(uow, catalog_import.read_rows(out.getvalue()).rows)

    shirt = await product(uow, "17")
    assert (shirt.rating, shirt.review_count, shirt.size_quantities) == (Decimal("4.50"), 12, {"S": 5, "M": 12, "L": 8})


@sqlite_only
@pytest.mark.parametrize("extra, reason", [
    ({"rating": 6}, "bad rating"),
    ({"reviewCount": -1}, "bad reviewCount"),
    ({"minQuantity": "a few"}, "bad minQuantity"),
    ({"sizeQuantities": {"M": "many"}}, "bad sizeQuantities[M]"),
    ({"sizeQuantities": "[1, 2]"}, "bad sizeQuantities"),
])
async def test_a_bad_catalog_extra_rejects_its_row_with_the_reason(uow, extra, reason):
    report = await run_import(uow, [{**OLD_CATALOG[0], **extra}])

    [rejected] = report.rejected
    assert rejected.reason.startswith(reason), rejected.reason


async def test_the_primary_image_comes_first_so_order_items_show_it(uow):
    await run_import(uow, OLD_CATALOG)

    shirt = await product(uow, "17")
    assert shirt.image_urls == ["/media/products/oxford.jpg", "/media/products/oxford-back.jpg"]
    assert shirt.image_url == "/media/products/oxford.jpg"
    assert (await product(uow, "kikoi-4")).image_urls == ["/media/products/kikoi.jpg"]


async def test_a_new_product_keeps_the_catalog_s_created_at(uow):
    await run_import(uow, OLD_CATALOG)

    shirt = await product(uow, "17")
    assert shirt.created_at == datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)


async def test_running_the_same_file_again_changes_nothing(uow):
    await run_import(uow, OLD_CATALOG)
    before = await product(uow, "17")
    moved = await movements(uow)

    report = await run_import(uow, OLD_CATALOG)

    assert counts(report) == (0, 0, 3, 0)
    after = await product(uow, "17")
    assert (after.updated_at, after.stock_quantity) == (before.updated_at, before.stock_quantity)
    assert await movements(uow) == moved


async def test_a_changed_row_updates_the_product_but_never_its_live_stock(uow):
    await run_import(uow, OLD_CATALOG)
    async with uow() as tx:
        await catalog.adjust_stock(tx, "17", -5, "sold", "test")  # the shop sold some meanwhile
        await tx.commit()

    report = await run_import(uow, [{**OLD_CATALOG[0], "price": 1650, "quantity": 25}, *OLD_CATALOG[1:]])

    assert counts(report) == (0, 1, 2, 0) and report.updated == ["17"]
    shirt = await product(uow, "17")
    assert (shirt.price, shirt.stock_quantity) == (Decimal("1650.00"), 20)
    assert any("--stock" in note for note in report.notes)


async def test_with_stock_the_file_sets_the_stock_of_products_already_here(uow):
    await run_import(uow, OLD_CATALOG)
    moved = await movements(uow)

    report = await run_import(uow, [{**OLD_CATALOG[0], "quantity": 40}, *OLD_CATALOG[1:]], stock_too=True)

    assert counts(report) == (0, 1, 2, 0)
    assert (await product(uow, "17")).stock_quantity == 40
    assert await movements(uow) == moved + 1  # the change is a stock movement like any other


async def test_a_row_without_an_id_updates_the_product_with_its_barcode(uow):
    await run_import(uow, OLD_CATALOG)

    report = await run_import(uow, [{**OLD_CATALOG[1], "id": None, "name": "Slim Chinos II"}])

    assert report.updated == ["18"]
    assert (await product(uow, "18")).name == "Slim Chinos II"


async def test_a_row_without_an_id_or_a_known_barcode_gets_a_new_id(uow):
    report = await run_import(uow, [{**OLD_CATALOG[0], "id": ""}])

    (new_id,) = report.created
    assert len(new_id) == 36 and (await product(uow, new_id)).barcode == "6001234500017"


async def test_an_existing_product_with_the_barcode_is_updated_and_says_its_id_stays(uow):
    async with uow() as tx:
        await catalog.create_product(tx, actor="test", id="local-1", name="Oxford", barcode="6001234500017",
                                     price=Decimal("1400.00"), stock_quantity=3)
        await tx.commit()

    report = await run_import(uow, [OLD_CATALOG[0]])

    assert report.updated == ["local-1"]
    assert any("'17'" in note and "'local-1'" in note for note in report.notes)
    assert (await product(uow, "local-1")).stock_quantity == 3


BAD_ROWS = [
    ({"name": ""}, "missing name"),
    ({"name": None}, "missing name"),
    ({"barcode": " "}, "missing barcode"),
    ({"price": None}, "missing price"),
    ({"price": "abc"}, "bad price"),
    ({"price": -1}, "bad price"),
    ({"price": "12.345"}, "bad price"),
    ({"price": True}, "bad price"),
    ({"discountedPrice": "cheap"}, "bad discountedPrice"),
    ({"quantity": 2.5}, "bad quantity"),
    ({"quantity": -3}, "bad quantity"),
    ({"sizes": {"S": 1}}, "bad sizes"),
    ({"sizes": "[S, M"}, "bad sizes"),
    ({"id": "a/b"}, "bad id"),
    ({"name": "x" * 201}, "bad name"),
    # PostgreSQL cannot store NUL in text: every text field refuses it on both databases alike.
    ({"name": "Shirt\x00"}, "bad name"),
    ({"barcode": "600\x00"}, "bad barcode"),
    ({"description": "\x00"}, "bad description"),
    ({"category": "shirts\x00"}, "bad category"),
    ({"sizes": ["S", "M\x00"]}, "bad sizes"),
    ({"colors": ["\x00White"]}, "bad colors"),
    ({"primaryImage": "/media/a\x00.jpg"}, "bad primaryImage"),
    ({"id": "17\x00"}, "bad id"),
]


@pytest.mark.parametrize("change, reason", BAD_ROWS, ids=[r for _, r in BAD_ROWS])
async def test_a_bad_row_is_rejected_with_its_reason_and_the_rest_go_in(uow, change, reason):
    report = await run_import(uow, [{**OLD_CATALOG[0], **change}, *OLD_CATALOG[1:]])

    assert counts(report) == (2, 0, 0, 1)
    (rejected,) = report.rejected
    assert rejected.row == 1 and reason in rejected.reason, rejected
    assert reason in "\n".join(report.lines())
    async with uow() as tx:
        assert await tx.session.get(Product, "17") is None


async def test_a_row_that_is_not_an_object_is_rejected(uow):
    report = await run_import(uow, ["Classic Oxford Shirt", OLD_CATALOG[1]])

    assert counts(report) == (1, 0, 0, 1) and "not a product object" in report.rejected[0].reason


async def test_a_barcode_twice_in_the_file_rejects_the_second_row(uow):
    report = await run_import(uow, [OLD_CATALOG[0], {**OLD_CATALOG[1], "barcode": OLD_CATALOG[0]["barcode"]}])

    assert counts(report) == (1, 0, 0, 1)
    assert report.rejected[0].row == 2 and "duplicate barcode" in report.rejected[0].reason
    assert "row 1" in report.rejected[0].reason


async def test_an_id_twice_in_the_file_rejects_the_second_row(uow):
    report = await run_import(uow, [OLD_CATALOG[0], {**OLD_CATALOG[1], "id": 17}])

    assert counts(report) == (1, 0, 0, 1) and "duplicate id '17'" in report.rejected[0].reason


async def test_a_barcode_another_product_holds_rejects_the_row(uow):
    await run_import(uow, OLD_CATALOG)

    report = await run_import(uow, [{**OLD_CATALOG[0], "barcode": OLD_CATALOG[1]["barcode"]}])

    assert counts(report) == (0, 0, 0, 1)
    assert "duplicate barcode" in report.rejected[0].reason and "'18'" in report.rejected[0].reason
    assert (await product(uow, "17")).barcode == OLD_CATALOG[0]["barcode"]


# --- reading files ----------------------------------------------------------------------------

@sqlite_only
@pytest.mark.parametrize("lists_as_json", [True, False], ids=["json-lists", "comma-lists"])
async def test_a_csv_export_imports_like_the_json(uow, lists_as_json):
    found = catalog_import.read_rows(as_csv(OLD_CATALOG, lists_as_json))

    report = await run_import(uow, found.rows)

    assert counts(report) == (3, 0, 0, 0)
    chinos = await product(uow, "18")
    assert (chinos.price, chinos.discounted_price, chinos.stock_quantity) == (
        Decimal("2400.50"), Decimal("1999.99"), 12)
    assert (chinos.sizes, (await product(uow, "17")).image_url) == (["30", "32", "34"], "/media/products/oxford.jpg")
    # the JSON of the same catalog finds nothing to change: both read alike
    assert counts(await run_import(uow, OLD_CATALOG)) == (0, 0, 3, 0)


def test_a_drf_page_is_read_for_its_results():
    found = catalog_import.read_rows(json.dumps({"count": 3, "next": None, "results": OLD_CATALOG}))

    assert (found.rows, found.first_row) == (OLD_CATALOG, 1)


def test_a_csv_numbers_its_rows_as_a_spreadsheet_does():
    found = catalog_import.read_rows("\ufeff" + as_csv(OLD_CATALOG[:2]))

    assert found.first_row == 2 and [r["id"] for r in found.rows] == ["17", "18"]


@sqlite_only
async def test_an_empty_line_in_a_spreadsheet_is_skipped_not_rejected(uow):
    text = as_csv(OLD_CATALOG[:1]) + ",,,,,,,,,,,,,,\r\n" + as_csv(OLD_CATALOG[1:2]).split("\r\n", 1)[1]
    found = catalog_import.read_rows(text)

    report = await run_import(uow, found.rows)

    assert counts(report) == (2, 0, 0, 0)


@pytest.mark.parametrize("text, reason", [
    ('{"products": []}', "array of products"),
    ("[{", "not valid JSON"),
    ("sku;title\n1;Shirt\n", "header row"),
])
def test_a_file_that_is_no_product_list_is_refused_whole(text, reason):
    with pytest.raises(catalog_import.UnreadableCatalog, match=reason):
        catalog_import.read_rows(text)


# --- the command, as a process ----------------------------------------------------------------

def orderdesk(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "DEFAULT_REGION": "KE"}
    return subprocess.run([str(ORDERDESK), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


async def command(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run in a thread, so a loopback server in this test's loop can answer it."""
    return await asyncio.to_thread(orderdesk, db_url, *args, cwd=cwd)


async def test_the_command_imports_a_file_and_reports(db_url, tmp_path):
    path = tmp_path / "products.json"
    path.write_text(json.dumps(OLD_CATALOG))

    first = await command(db_url, "catalog", "import", str(path), cwd=tmp_path)
    again = await command(db_url, "catalog", "import", str(path), cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "3 created, 0 updated, 0 unchanged, 0 rejected" in first.stdout
    assert again.returncode == 0 and "0 created, 0 updated, 3 unchanged, 0 rejected" in again.stdout


async def test_the_command_reports_each_rejected_row_and_exits_1(db_url, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(as_csv([OLD_CATALOG[0], {**OLD_CATALOG[1], "name": ""}, {**OLD_CATALOG[2], "price": "free"}]))

    result = await command(db_url, "catalog", "import", str(path), cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "1 created, 0 updated, 0 unchanged, 2 rejected" in lines[0]
    # numbered as the spreadsheet shows them: the header is row 1
    assert any(line.startswith("rejected row 3") and "'18'" in line and "missing name" in line for line in lines)
    assert any(line.startswith("rejected row 4") and "bad price 'free'" in line for line in lines)


async def test_the_command_with_stock_sets_the_stock_of_existing_products(db_url, tmp_path, client):
    path = tmp_path / "products.json"
    path.write_text(json.dumps(OLD_CATALOG))
    await command(db_url, "catalog", "import", str(path), cwd=tmp_path)
    path.write_text(json.dumps([{**OLD_CATALOG[0], "quantity": 7}]))

    kept = await command(db_url, "catalog", "import", str(path), cwd=tmp_path)
    shirt_kept = await (await client.get("/api/products/17/")).json()
    stocked = await command(db_url, "catalog", "import", str(path), "--stock", cwd=tmp_path)
    shirt_stocked = await (await client.get("/api/products/17/")).json()

    assert "0 updated, 1 unchanged" in kept.stdout and shirt_kept["stockQuantity"] == 25
    assert "1 updated, 0 unchanged" in stocked.stdout and shirt_stocked["stockQuantity"] == 7


async def test_the_command_reads_a_url(db_url, tmp_path, aiohttp_server):
    async def old_backend(_request):
        return web.json_response(OLD_CATALOG)

    app = web.Application()
    app.router.add_get("/api/products/", old_backend)
    server = await aiohttp_server(app)

    result = await command(db_url, "catalog", "import", str(server.make_url("/api/products/")), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "3 created" in result.stdout


async def test_a_url_that_answers_an_error_writes_nothing_and_exits_2(db_url, tmp_path, aiohttp_server, client):
    server = await aiohttp_server(web.Application())

    result = await command(db_url, "catalog", "import", str(server.make_url("/api/products/")), cwd=tmp_path)

    assert result.returncode == 2 and "404" in result.stderr
    assert await (await client.get("/api/products/")).json() == []


@sqlite_only
def test_a_missing_file_says_so_and_exits_2(db_url, tmp_path):
    result = orderdesk(db_url, "catalog", "import", str(tmp_path / "nope.json"), cwd=tmp_path)

    assert result.returncode == 2 and "nope.json" in result.stderr and "No such file" in result.stderr


async def test_an_order_names_an_imported_product_by_its_old_integer_id(db_url, tmp_path, client):
    path = tmp_path / "products.json"
    path.write_text(json.dumps(OLD_CATALOG))
    await command(db_url, "catalog", "import", str(path), cwd=tmp_path)

    response = await client.post("/api/orders/", json={
        "customer_name": "Amina Otieno", "customer_phone": "0712 345 678", "customer_address": "Moi Ave 12",
        "items": [{"product": 17, "product_name": "Classic Oxford Shirt", "quantity": 2, "unit_price": "1500.00",
                   "selected_size": "M", "selected_color": "White"},
                  {"product": 18, "quantity": 1, "unit_price": "1999.99"}],
        "total": "4999.99", "item_count": 3})

    assert response.status == 201, await response.text()
    order = await response.json()
    assert [(i["productId"], i["productImage"]) for i in order["items"]] == [
        ("17", "/media/products/oxford.jpg"), ("18", None)]
