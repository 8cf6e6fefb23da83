"""Fan-out to a party's WebSockets through the channel layer.

The payload that travels through the layer is the finished JSON frame, serialized once here, so a
party of N sockets costs one serialization; each consumer forwards the text as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core.realtime.dbcalls import calling_loop
from core.realtime.localgroups import STATE_KEEPING_EVENTS, changed_here

logger = logging.getLogger(__name__)


# The party socket's close codes (docs/PROTOCOL.md).
CLOSE_ENDED = 4000
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_SOCKETS = 4429
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013  # this process holds WEBSOCKET_MAX_SOCKETS_PER_PROCESS sockets


def party_group(party_id: str) -> str:
    return f"party.{party_id}"


def encode_frame(frame_type: str, payload: dict[str, Any]) -> str:
    return json.dumps({"type": frame_type, **payload}, ensure_ascii=False, separators=(",", ":"))


def channel_event(frame_type: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A channel-layer event whose ``type`` dispatches to the consumer handler of the same name."""
    return {"type": frame_type, "frame": encode_frame(frame_type, payload), **extra}


async def abroadcast(party_id: str, frame_type: str, payload: dict[str, Any], **extra: Any) -> bool:
    """Send a frame to every socket of the party. False when the channel layer is unreachable:
    the change is already stored, and clients catch up with ``resume``."""
    layer = get_channel_layer()
    if layer is None:
        return False
    if frame_type not in STATE_KEEPING_EVENTS:
        changed_here(layer, party_group(party_id))  # the change is stored: no socket here may act on the old party
    try:
        await layer.group_send(party_group(party_id), channel_event(frame_type, payload, **extra))
    except Exception:  # noqa: BLE001 - a layer outage must not fail a write that is already stored
        logger.warning("Channel layer broadcast of %s to party %s failed", frame_type, party_id, exc_info=True)
        return False
    return True


def broadcast(party_id: str, frame_type: str, payload: dict[str, Any], **extra: Any) -> bool:
    """The synchronous form of ``abroadcast``, for views, services and commands."""
    loop = calling_loop()
    if loop is not None:  # a service on the database call pool: publish on the loop that awaits it
        return asyncio.run_coroutine_threadsafe(abroadcast(party_id, frame_type, payload, **extra), loop).result()
    return async_to_sync(abroadcast)(party_id, frame_type, payload, **extra)


def user_group(user_id: str) -> str:
    """Every socket of one user, in any party (closed when the account may no longer act)."""
    return f"user.{user_id}"


def token_group(token_id: str) -> str:
    """Every socket opened with one API token (closed when that token is revoked)."""
    return f"token.{token_id}"


def _close_group(group: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "session.close", "code": CLOSE_UNAUTHENTICATED})
    except Exception:  # noqa: BLE001 - the revoke is stored; each socket also re-checks the account per frame
        logger.warning("Channel layer close of %s failed", group, exc_info=True)


def close_user_sockets(user_id: str) -> None:
    """Close every socket of the user, in every process, with 4401."""
    _close_group(user_group(user_id))


def close_token_sockets(token_id: str) -> None:
    """Close every socket opened with the token, in every process, with 4401."""
    _close_group(token_group(token_id))
