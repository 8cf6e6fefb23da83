"""Helpers for the admin tests: staff users, the channel layer as a party's socket hears it."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core.realtime.fanout import party_group


def listen(party_id: str):
    """A channel in the party's group, as a socket would have. Returns ``receive()``, which gives
    the next event's frame as a dict (with ``_event`` holding the raw channel-layer event)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(party_group(party_id), channel)

    async def _receive(timeout: float):
        return await asyncio.wait_for(layer.receive(channel), timeout)

    def receive(timeout: float = 2) -> dict:
        event = async_to_sync(_receive)(timeout)
        return {**json.loads(event["frame"]), "_event": event}

    return receive


def nothing_heard(receive, timeout: float = 0.2) -> bool:
    try:
        receive(timeout)
    except asyncio.TimeoutError:
        return True
    return False


def assert_redirects_to_admin_login(response) -> None:
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/admin/login/"), response["Location"]
