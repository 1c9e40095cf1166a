"""The API's route table: each row registers a handler and documents it in the OpenAPI document."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from core import accounts
from core.errors import TokenRefused
from core.tokens import Bearer, Role, authenticate
from core.uow import UnitOfWork
from webhooks import keys
from webhooks.problems import from_validation, problem

MAX_BODY = 1024 * 1024


@dataclass
class Call:
    """What a handler gets besides the request: the validated body and query, and who is calling."""

    request: web.Request
    body: BaseModel | None
    query: BaseModel | None
    token: Bearer | None  # the API token or signed-in account calling, or None for a guest
    tx: UnitOfWork | None = None  # the request's unit of work, open around the handler

    @property
    def actor(self) -> str:
        return self.token.actor if self.token else "storefront"

    @property
    def uow(self):
        """The app's unit-of-work factory, for a handler that needs a transaction of its own."""
        return self.request.app[keys.UOW]

    @property
    def settings(self):
        return self.request.app[keys.SETTINGS]


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: frozenset[Role] | None = None  # None: anyone
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    tag: str = "api"
    throttle: Callable[[web.Request, Any], web.Response | None] | None = None
    # The request runs in one unit of work, opened here (read-only for GET): the token check and the
    # handler share its connection. False for a handler that opens its own (GET /health).
    in_transaction: bool = True
    # False for sign-in, refresh and register: whatever stale token a storefront still sends is ignored.
    bearer: bool = True


def add_routes(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        view = _view(route)
        app.router.add_route(route.method, route.path, view)
        if route.path.endswith("/") and route.path != "/":
            app.router.add_route(route.method, route.path.rstrip("/"), view)


def _view(route: Route):
    async def view(request: web.Request) -> web.StreamResponse:
        if any("\x00" in value for value in request.match_info.values()):
            return problem(404, "not-found", "Not found", "No such resource.")  # no id holds a NUL
        if route.roles is not None and not request.headers.get("Authorization"):
            return _unauthorized("Send Authorization: Bearer <token>.")
        # The body arrives before any transaction opens: a writer never waits on a client's network.
        raw = await request.read() if route.body is not None else None
        if not route.in_transaction:
            return await _handle(route, request, raw, None)
        async with request.app[keys.UOW](readonly=route.method == "GET") as tx:
            return await _handle(route, request, raw, tx)

    view.__name__ = route.handler.__name__
    return view


async def _handle(route: Route, request: web.Request, raw: bytes | None, tx) -> web.StreamResponse:
    token = await _authorise(request, route.roles, tx) if route.bearer else None
    if isinstance(token, web.Response):
        return token
    if route.throttle is not None and (refused := route.throttle(request, token)) is not None:
        return refused
    body = query = None
    if route.body is not None:
        body = _parse_body(raw, route.body)
        if isinstance(body, web.Response):
            return body
    if route.query is not None:
        if (where := _nul_at(dict(request.query))) is not None:
            return _nul_problem(where)
        try:
            query = route.query.model_validate(dict(request.query))
        except ValidationError as exc:
            return from_validation(exc, "query")
    return await route.handler(Call(request, body, query, token, tx))


def _unauthorized(detail: str) -> web.Response:
    return problem(401, "unauthorized", "Unauthorized", detail)


async def _authorise(request: web.Request, roles: frozenset[Role] | None, tx):
    """The caller (None for a guest), or the 401/403 to answer. A token that is sent must be good, on a
    public route too: a storefront whose access token expired refreshes it instead of ordering as a guest."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None  # a guest, on a route that allows one
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    token = None
    if scheme.lower() == "bearer" and secret:
        if tx is None:
            async with request.app[keys.UOW](readonly=True) as own:
                token = await _bearer(request, own, secret)
        else:
            token = await _bearer(request, tx, secret)
    if isinstance(token, web.Response):
        return token
    if token is None:
        return _unauthorized("The bearer token is unknown or revoked.")
    if roles is not None and Role(token.role) not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        return problem(403, "forbidden", "Forbidden", f"This needs a token with role {allowed}; yours is {token.role}.")
    return token


async def _bearer(request: web.Request, tx, secret: str):
    """An API token or an account's access token, each checked against the database now."""
    if not accounts.looks_like_jwt(secret):
        return await authenticate(tx, secret)
    try:
        return await accounts.authenticate(tx, request.app[keys.TOKENS], secret)
    except TokenRefused as exc:
        return problem(401, "token-not-valid", "Unauthorized", str(exc), code="token_not_valid")


def _parse_body(raw: bytes, model: type[BaseModel]):
    try:
        data = json.loads(raw or b"{}")  # not orjson: a NaN total is refused naming the field, not as malformed
    except RecursionError:
        return problem(400, "malformed-json", "Malformed JSON", "The body nests too deeply to be an order.")
    except ValueError as exc:  # includes UnicodeDecodeError
        return problem(400, "malformed-json", "Malformed JSON", f"The body is not valid JSON: {exc}.")
    if not isinstance(data, dict):
        return problem(400, "malformed-json", "Malformed JSON", "The body must be a JSON object.")
    # JSON writes a NUL only as the escape \u0000 (a raw control character is not valid JSON).
    if b"\\u0000" in raw and (where := _nul_at(data)) is not None:
        return _nul_problem(where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return from_validation(exc)


def _nul_at(data, path: str = "") -> str | None:
    """Where a NUL character hides in a JSON value (PostgreSQL cannot store one in text), if anywhere."""
    if isinstance(data, str):
        return path if "\x00" in data else None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        where = _nul_at(value, f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key))
        if where is not None:
            return where
    return None


def _nul_problem(field: str) -> web.Response:
    message = "must not contain a NUL character (\\u0000)"
    return problem(400, "validation", "Invalid request", f"{field}: {message}",
                   errors=[{"field": field, "message": message}])
