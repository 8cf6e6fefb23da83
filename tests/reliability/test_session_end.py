"""Sockets that outlive the right to use them, against each live server (daphne and uvicorn): a
revoked token, a deactivated account."""

from __future__ import annotations

import asyncio
import time

from tests.reliability.harness import http
from tests.reliability.wsclient import Client


async def _closed_with(client: Client, timeout: float = 5) -> list[int | None]:
    deadline = time.monotonic() + timeout
    while client.is_open and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return client.close_codes


async def test_revoking_a_token_closes_its_open_socket_4401(server):
    """POST /api/auth/token/revoke/ over HTTP closes the socket opened with that token, with 4401."""
    host, guest = server.take_tokens(2)
    party = server.party_with([host, guest])
    client = Client(server, guest, party["id"], name="revoked")
    try:
        await client.open()
        status, _ = await asyncio.to_thread(http, "POST", f"{server.base_url}/api/auth/token/revoke/", token=guest)
        assert status == 204
        assert await _closed_with(client) == [4401]
    finally:
        await client.close()


async def test_a_deactivated_account_can_no_longer_write_over_its_open_socket(server):
    """Deactivated from another process (bulk update: no signal, no channel-layer message), the
    account's next chat.send is not stored and its socket closes 4401."""
    host, guest = server.take_tokens(2)
    party = server.party_with([host, guest])
    client = Client(server, guest, party["id"], name="deactivated")
    try:
        await client.open()
        await asyncio.to_thread(
            server.manage, "shell", "-c",
            f"from django.contrib.auth.models import User; User.objects.filter(pk={server.user_ids[guest]}).update(is_active=False)",
        )  # fmt: skip
        reply, _ = await client.send_chat("after deactivation", "gone-1", timeout=5)
        assert reply is None and await _closed_with(client) == [4401]
        status, page = await asyncio.to_thread(
            http, "GET", f"{server.base_url}/api/parties/{party['id']}/messages/", token=host
        )
        assert status == 200
        assert "after deactivation" not in [m["message"] for m in page["results"]]
    finally:
        await client.close()
