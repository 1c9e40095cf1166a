"""Typed application keys: everything create_app wires, in one place."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from core.uow import UnitOfWork

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
UOW = web.AppKey("uow", UnitOfWork)
CLOCK = web.AppKey("clock", object)
SENDER = web.AppKey("sender", object)
RESPONDER = web.AppKey("responder", object)  # webhooks.responder.Responder
RECEIPTS = web.AppKey("receipts", object)  # webhooks.media.ReceiptFetcher
ORDER_RATE = web.AppKey("order_rate", object)  # webhooks.ratelimit.SlidingWindow, per client IP
METERS = web.AppKey("meters", object)  # webhooks.observe.Meters, this process's own counts
PASSWORDS = web.AppKey("passwords", object)  # core.accounts.Passwords: Argon2 off the loop, two at a time
TOKENS = web.AppKey("tokens", object)  # core.accounts.Tokens: signs and reads account tokens
