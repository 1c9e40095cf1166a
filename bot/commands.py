"""Admin commands (filled in by the admin-commands work); for now admins are answered as customers."""
from __future__ import annotations

from bot import conversation


async def admin_turn(uow, customer, message) -> None:
    await conversation.customer_turn(uow, customer, message)
