"""Settings from the environment (and a `.env` file), read once by the composition root."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
        raise ValueError(f"{value!r} is not a duration: use e.g. 90s, 30m, 6h, 2d or off")
    return timedelta(**{_UNITS[match[2].lower()]: int(match[1])})


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


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
    orderdesk_env: str = "development"
    metrics_token: str | None = None
    shop_timezone: str = "UTC"
    media_dir: str = "./media"  # receipts the shop keeps, named by SHA-256 (webhooks/media.py)
    # Scheduled work (CONTRACT §5)
    payment_reminder_after: timedelta | None = timedelta(hours=6)
    pending_expiry_after: timedelta | None = None
    daily_digest_at: str | None = "20:00"
    low_stock_threshold: int = 3
    job_sweep_interval: timedelta = timedelta(seconds=60)
    whatsapp_templates: dict[str, str] = {}
    # Abuse limits (CONTRACT §1): unset, `off` or 0 means no limit
    max_pending_orders_per_phone: int | None = None
    rate_limit_orders_per_minute: int | None = None  # per client IP, counted per process
    rate_limit_inbound_per_minute: int | None = None  # per sender, counted in the database
    trust_proxy_headers: bool = False  # take the client IP from the first X-Forwarded-For hop

    @field_validator("admin_phones", "cors_allowed_origins", mode="before")
    @classmethod
    def _commas(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("api_compat", mode="before")
    @classmethod
    def _compat(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value  # `DRF` is a typo worth forgiving

    @field_validator("handover_quiet", "payment_reminder_after", "pending_expiry_after", "job_sweep_interval",
                     mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

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
            raise ValueError(f"{value} is not a limit: use a positive number, or off")
        return value

    @field_validator("daily_digest_at", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() in ("", "off", "none"):
                return None
            if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
                raise ValueError(f"{value!r} is not a time of day: use HH:MM (e.g. 20:00) or off")
            return value.strip()
        return value

    @field_validator("shop_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Africa/Nairobi") from None
        return value

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def shop_phone_digits(self) -> str:
        return re.sub(r"\D", "", self.twilio_whatsapp_from)
