"""Settings from the environment (and a `.env` file), read once by the composition root.

Every setting is checked when a command starts (CONTRACT §1): `problems(ValidationError)` turns
pydantic's errors into one line per setting, `NAME: what is wrong (an example that works)`.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated, Literal

import phonenumbers
from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: str | timedelta | None) -> timedelta | None:
    """`90s`, `30m`, `6h`, `2d` -> timedelta; `off` (or empty) -> None."""
    if value is None or isinstance(value, timedelta):
        return value
    if value.strip().lower() in ("", "off", "none", "0"):
        return None
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration")
    return timedelta(**{_UNITS[match[2].lower()]: int(match[1])})


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# What a setting that was refused could look like instead, for its one-line answer.
EXAMPLES = {
    "database_url": "postgres://user:password@host:5432/shop or sqlite:///./orderdesk.db",
    "public_base_url": "https://shop.example.com",
    "admin_phones": "+254712345678,+254733000111",
    "default_region": "KE",
    "handover_quiet": "2h", "payment_reminder_after": "6h, 90s, 30m, 2d or off",
    "pending_expiry_after": "2d or off", "job_sweep_interval": "60s",
    "daily_digest_at": "20:00 or off",
    "shop_timezone": "Africa/Nairobi",
    "max_pending_orders_per_phone": "3 or off", "rate_limit_orders_per_minute": "10 or off",
    "rate_limit_inbound_per_minute": "20 or off",
    "orderdesk_env": "production",
    "api_compat": "drf",
    "low_stock_threshold": "3",
    "whatsapp_templates": '{"order_status": "HX..."}',
    "admin_alert_new_orders": "true", "trust_proxy_headers": "false",
    "log_format": "json or text", "log_level": "info",
    "secret_key": "the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    "access_token_lifetime": "15m", "refresh_token_lifetime": "7d",
    "ledger_token": "the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
    "ledger_grace": "10m, 30m, 1h or off", "auto_confirm_on_ledger": "true or false",
}
MIN_SECRET_KEY = 32  # characters: HS256 wants a key at least as long as its hash
# The message kinds a WhatsApp template may carry across the 24-hour window (CONTRACT §5).
TEMPLATE_KINDS = ("order_status", "payment_reminder", "admin_alert", "payment_received")
# The drivers orderdesk runs on, by the URL schemes platforms and people write.
DATABASE_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg",
                    "postgresql+asyncpg": "postgresql+asyncpg",
                    "sqlite": "sqlite+aiosqlite", "sqlite+aiosqlite": "sqlite+aiosqlite"}


def database_url(value: str) -> str:
    """DATABASE_URL as given (Heroku's `postgres://…`, `postgresql://…?sslmode=require`, a plain
    `sqlite:///path`) -> the URL of the driver orderdesk runs on. Raises ValueError."""
    try:
        url = make_url(value.strip())
    except ArgumentError:
        raise ValueError(f"{value!r} is not a database URL") from None
    driver = DATABASE_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(f"{url.drivername!r} is not a database orderdesk runs on: use PostgreSQL or SQLite")
    url = url.set(drivername=driver)
    if driver.startswith("postgresql") and "sslmode" in url.query:  # libpq's name; asyncpg calls it ssl
        url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": url.query["sslmode"]})
    return url.render_as_string(hide_password=False)


def problems(error: ValidationError) -> list[str]:
    """One line per refused setting: `NAME: what is wrong (an example that works)`."""
    lines = []
    for item in error.errors():
        why = str(item.get("ctx", {}).get("error") or item["msg"]).removeprefix("Value error, ")
        if not item["loc"]:  # a check of several settings together names its own
            lines.append(why)
            continue
        name = str(item["loc"][0])
        example = EXAMPLES.get(name)
        lines.append(f"{name.upper()}: {why}" + (f" (e.g. {example})" if example else ""))
    return lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./orderdesk.db"
    public_base_url: str = "http://127.0.0.1:8080"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_api_base_url: str = "https://api.twilio.com"
    admin_phones: Annotated[list[str], NoDecode] = []
    default_region: str = "US"
    order_reference_prefix: str = "LEG"
    admin_alert_new_orders: bool = True
    shop_name: str = "Demo Shop"
    currency: str = "KES"
    payment_instructions: str = "Pay by M-PESA to till 123456 and send us the confirmation here."
    api_compat: Literal["", "drf"] = ""
    cors_allowed_origins: Annotated[list[str], NoDecode] = []
    handover_quiet: timedelta | None = timedelta(hours=2)
    orderdesk_env: Literal["development", "production"] = "development"
    metrics_token: str | None = None
    log_format: Literal["text", "json"] | None = None  # None: json where DYNO is set (Heroku), else text
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shop_timezone: str = "UTC"
    media_dir: str = "./media"  # receipts the shop keeps, named by SHA-256 (webhooks/media.py)
    # Scheduled work (CONTRACT §5)
    payment_reminder_after: timedelta | None = timedelta(hours=6)
    pending_expiry_after: timedelta | None = None
    daily_digest_at: str | None = "20:00"
    low_stock_threshold: int = 3
    job_sweep_interval: timedelta = timedelta(seconds=60)
    whatsapp_templates: Annotated[dict[str, str], NoDecode] = {}
    # Abuse limits (CONTRACT §1): unset, `off` or 0 means no limit
    max_pending_orders_per_phone: int | None = None
    rate_limit_orders_per_minute: int | None = None  # per client IP, counted per process
    rate_limit_inbound_per_minute: int | None = None  # per sender, counted in the database
    trust_proxy_headers: bool = False  # take the client IP from the first X-Forwarded-For hop
    # Storefront accounts (CONTRACT §2): the key that signs their tokens (unset in development: a random
    # one is kept in the database; required in production), and how long the tokens live.
    secret_key: str | None = None
    access_token_lifetime: timedelta = timedelta(minutes=15)
    refresh_token_lifetime: timedelta = timedelta(days=7)
    # The shop's own ledger (CONTRACT §4): the SMS forwarder's bearer token (POST /webhooks/ledger is 404
    # while it is unset), how long a claimed code may wait for its ledger entry before the admins hear
    # it is missing (off: never), and whether an order fully paid in the ledger confirms itself.
    ledger_token: str | None = None
    ledger_grace: timedelta | None = timedelta(minutes=10)
    auto_confirm_on_ledger: bool = False

    @field_validator("admin_phones", "cors_allowed_origins", mode="before")
    @classmethod
    def _commas(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("database_url", mode="before")
    @classmethod
    def _database(cls, value: object) -> object:
        return database_url(value) if isinstance(value, str) else value

    @field_validator("orderdesk_env", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() not in ("development", "production"):
            raise ValueError(f"{value!r} is neither development nor production")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("default_region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"{value!r} is not a region code phone numbers know (ISO 3166, two letters)")
            return value.strip().upper()
        return value

    @model_validator(mode="after")
    def _admins_in_e164(self) -> Settings:
        """ADMIN_PHONES as E.164, each read in DEFAULT_REGION when written without a country code."""
        from core.phones import try_e164

        e164, unread = [], []
        for raw in self.admin_phones:
            phone = try_e164(raw, self.default_region)
            (e164 if phone else unread).append(phone or raw)
        if unread:
            raise ValueError(f"ADMIN_PHONES: {', '.join(map(repr, unread))} is not a phone number in region "
                             f"{self.default_region} (write it with its country code)")
        self.admin_phones = e164
        return self

    @field_validator("whatsapp_templates", mode="before")
    @classmethod
    def _templates(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError("not JSON") from None
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(TEMPLATE_KINDS))
            if unknown:
                raise ValueError(f"{', '.join(map(repr, unknown))} is not a message kind ({', '.join(TEMPLATE_KINDS)})")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value.strip()):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip()

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return (value.strip().lower() or None) if isinstance(value, str) else value

    @field_validator("api_compat", mode="before")
    @classmethod
    def _compat(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value  # `DRF` is a typo worth forgiving

    @field_validator("handover_quiet", "payment_reminder_after", "pending_expiry_after", "job_sweep_interval",
                     "access_token_lifetime", "refresh_token_lifetime", "ledger_grace", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        value = parse_duration(value) if isinstance(value, str) else value
        if value is None and info.field_name.endswith("_token_lifetime"):
            raise ValueError("a token needs a lifetime; it cannot be off")
        return value

    @field_validator("ledger_token", mode="before")
    @classmethod
    def _ledger_token(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and any(ch.isspace() or ord(ch) < 33 or ord(ch) > 126 for ch in value):
                raise ValueError("a bearer token is printable ASCII without spaces")
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and len(value) < MIN_SECRET_KEY:
                raise ValueError(f"{len(value)} characters is too short to sign tokens; use at least {MIN_SECRET_KEY}")
        return value

    @field_validator("max_pending_orders_per_phone", "rate_limit_orders_per_minute", "rate_limit_inbound_per_minute",
                     mode="before")
    @classmethod
    def _limit(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none", "0"):
            return None
        return None if value == 0 else value

    @field_validator("max_pending_orders_per_phone", "rate_limit_orders_per_minute", "rate_limit_inbound_per_minute")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"{value} is not a limit")
        return value

    @field_validator("daily_digest_at", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() in ("", "off", "none"):
                return None
            if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
                raise ValueError(f"{value!r} is not a time of day, HH:MM")
            return value.strip()
        return value

    @field_validator("shop_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def shop_phone_digits(self) -> str:
        return re.sub(r"\D", "", self.twilio_whatsapp_from)
