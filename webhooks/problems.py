"""Errors -> RFC 9457 problem+json, through one table. Nothing here re-checks a rule."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import DisconnectionError

from core import errors
from webhooks.keys import SETTINGS
from webhooks.observe import Throttled

log = logging.getLogger("orderdesk.http")
_DATABASE_AWAY = Throttled(log)  # one line every 10 s, not one per request, while the database is away
PROBLEM = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra) -> web.Response:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(status=status, text=json.dumps(body, default=str), content_type=PROBLEM)


def _shortages(e: errors.InsufficientStock) -> dict:
    return {"shortages": [{"productId": s.product_id, "name": s.name, "barcode": s.barcode,
                           "wanted": s.wanted, "available": s.available} for s in e.shortages]}


# Domain error -> (status, slug, title, extra members from the error's facts)
TABLE: dict[type[errors.DomainError], tuple[int, str, str, Callable]] = {
    errors.NotFound: (404, "not-found", "Not found", lambda e: {}),
    errors.InvalidField: (400, "validation", "Invalid request",
                          lambda e: {"errors": [{"field": e.field, "message": e.message}]}),
    errors.InvalidTransition: (409, "invalid-transition", "Status change not allowed",
                               lambda e: {"currentStatus": e.current, "allowed": e.allowed}),
    errors.InsufficientStock: (409, "insufficient-stock", "Not enough stock", _shortages),
    errors.PriceMismatch: (409, "price-mismatch", "Prices have changed",
                           lambda e: {"currentPrices": {k: f"{v:.2f}" for k, v in e.current_prices.items()},
                                      "total": f"{e.total:.2f}", "itemCount": e.item_count}),
    errors.ReferenceConflict: (409, "reference-conflict", "Order reference already used", lambda e: {}),
    errors.TooManyPendingOrders: (429, "too-many-pending-orders", "Too many unpaid orders",
                                  lambda e: {"limit": e.limit, "pending": e.pending}),
    errors.StockBelowZero: (409, "stock-below-zero", "Stock cannot go below zero",
                            lambda e: {"available": e.available}),
    errors.StockAboveCap: (409, "stock-above-cap", "Stock cannot pass the cap",
                           lambda e: {"available": e.available, "cap": e.cap}),
    errors.DuplicateBarcode: (409, "duplicate-barcode", "Barcode already used", lambda e: {}),
    errors.DuplicateProductId: (409, "duplicate-id", "Product id already used", lambda e: {}),
    errors.NotAllowed: (409, "not-allowed", "Not allowed", lambda e: {}),
    errors.SignInRefused: (401, "sign-in-refused", "Unauthorized", lambda e: {"code": "no_active_account"}),
    errors.SignInLocked: (429, "sign-in-locked", "Too many wrong passwords", lambda e: {"retryAfter": e.retry_after}),
    errors.TokenRefused: (401, "token-not-valid", "Unauthorized", lambda e: {"code": "token_not_valid"}),
    errors.Forbidden: (403, "forbidden", "Forbidden", lambda e: {}),
}
# Domain error -> the headers its answer carries besides
HEADERS: dict[type[errors.DomainError], Callable] = {
    errors.SignInLocked: lambda e: {"Retry-After": str(e.retry_after)},
}


def from_domain(exc: errors.DomainError) -> web.Response:
    for cls in type(exc).__mro__:
        if cls in TABLE:
            status, slug, title, extra = TABLE[cls]
            response = problem(status, slug, title, str(exc), **extra(exc))
            if cls in HEADERS:
                response.headers.update(HEADERS[cls](exc))
            return response
    raise exc


def with_drf_members(response: web.Response) -> web.Response:
    """API_COMPAT=drf: the problem keeps its members and gains the two that storefront reads, `error`
    (the title) and `details` (lines a person reads: the field errors, or a confirm's shortages)."""
    body = json.loads(response.text)
    if body.get("errors"):
        details = [f"{e['field']}: {e['message']}" for e in body["errors"]]
    elif body.get("shortages"):
        details = [f"{s['name']} ({s['barcode']}): need {s['wanted']}, have {s['available']}" for s in body["shortages"]]
    else:
        details = [body["detail"]]
    response.text = json.dumps({**body, "error": body["title"], "details": details}, default=str)
    response.content_type = PROBLEM
    return response


def from_validation(exc: ValidationError, where: str = "body") -> web.Response:
    field_errors = []
    for err in exc.errors(include_url=False):
        field = _dotted(err["loc"]) or where
        message = err["msg"]
        if err["type"] not in ("missing", "extra_forbidden", "status") and _is_scalar(err.get("input")):
            message = f"{message} (received {err['input']!r})"
        field_errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors[:5])
    return problem(400, "validation", "Invalid request", detail, errors=field_errors)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) and len(str(value)) <= 200


@web.middleware
async def problem_middleware(request: web.Request, handler):
    response = await _answer(request, handler)
    # The status first: a success (nearly every answer) costs one comparison here.
    if (response.status >= 400 and request.app[SETTINGS].api_compat == "drf" and isinstance(response, web.Response)
            and response.content_type == PROBLEM and request.path.startswith("/api/")):
        return with_drf_members(response)
    return response


async def _answer(request: web.Request, handler):
    try:
        return await handler(request)
    except errors.DomainError as exc:
        return from_domain(exc)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == PROBLEM:
            raise
        if request.path.startswith("/webhooks/"):
            raise  # Twilio gets plain answers
        response = problem(exc.status, f"http-{exc.status}", exc.reason, exc.text or exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]  # a 405 must say what is allowed
        return response
    except Exception as exc:
        if _database_unreachable(exc):  # not a fault of the request: say so, and log it now and then
            _DATABASE_AWAY.exception("the database does not answer (%s %s)", request.method, request.path)
            response = problem(503, "unavailable", "Service unavailable",
                               "The database does not answer; try again in a few seconds.")
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal", "Internal error", "Something went wrong on our side; it has been logged.")


def _database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` comes from a database connection that cannot be made or was lost."""
    while exc is not None:
        if isinstance(exc, (OSError, DisconnectionError)) or getattr(exc, "connection_invalidated", False):
            return True
        exc = exc.__cause__
    return False
