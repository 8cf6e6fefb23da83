"""Health checks: /health/live (the process answers) and /health/ready (MongoDB and the channel
layer answer), open to anyone and telling nothing but "ok" or "down"."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.db.client import ping as mongo_ping

logger = logging.getLogger(__name__)

CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0


@require_GET
@never_cache
def health_live(request):
    return JsonResponse({"status": "ok"})


async def _channel_layer_answers() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    shards_answering = getattr(layer, "shards_answering", None)  # core.realtime.channel_layers: each shard
    if shards_answering is not None:
        answers = await shards_answering()
        if not all(answers):
            logger.warning("Channel layer shards not answering: %s", [i for i, ok in enumerate(answers) if not ok])
        return all(answers)
    try:
        # A group send reaches the backing store (Redis) even when nobody listens.
        await asyncio.wait_for(
            layer.group_send("health.probe", {"type": "health.probe"}), CHANNEL_LAYER_TIMEOUT_SECONDS
        )
    except Exception:  # noqa: BLE001 - any failure means "down"; never shown to the client
        logger.warning("Channel layer health probe failed", exc_info=True)
        return False
    return True


def dependency_status() -> dict[str, str]:
    return {
        "mongodb": "ok" if mongo_ping() else "down",
        "channel_layer": "ok" if async_to_sync(_channel_layer_answers)() else "down",
    }


@require_GET
@never_cache
def health_ready(request):
    checks = dependency_status()
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "down", "checks": checks}, status=200 if ready else 503)
