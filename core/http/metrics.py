"""Prometheus metrics, served at ``/metrics`` (see staff.views.metrics).

The objects live in prometheus_client's default registry of this process. daphne runs one process;
when several processes serve the site, each one serves its own ``/metrics`` and the scraper adds
them up (no multiprocess mode is used). Updating a metric is a cheap in-memory operation, safe from
any thread.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# MongoDB command durations reach from well under a millisecond (an indexed find) to seconds.
_MONGO_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MONGO_COMMAND_SECONDS = Histogram(
    "watchparty_mongodb_command_duration_seconds",
    "Duration of MongoDB commands (pymongo command monitoring), by command and collection.",
    ["command", "collection"],
    buckets=_MONGO_BUCKETS,
)

WEBSOCKETS_OPEN = Gauge(
    "watchparty_websockets_open",
    "Party WebSockets open and authorized in this process.",
)

MESSAGES_STORED = Counter(
    "watchparty_messages_stored",
    "Chat messages stored from users (HTTP or WebSocket); repeats of a client_id are not counted.",
)

MESSAGES_DELIVERED = Counter(
    "watchparty_messages_delivered",
    "chat.message frames forwarded from the channel layer to a WebSocket (one per receiving socket).",
)

WEBSOCKET_FRAMES_REJECTED = Counter(
    "watchparty_websocket_frames_rejected",
    "Client frames answered with an error frame, by error code.",
    ["code"],
)

MESSAGE_BROADCAST_SECONDS = Histogram(
    "watchparty_message_broadcast_seconds",
    "Time from storing a chat message to handing it to the channel layer.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# The protocol's WebSocket error codes start at zero, so dashboards see them before the first one.
for _code in ("invalid", "forbidden", "not_found", "rate_limited", "chat_disabled", "unavailable"):
    WEBSOCKET_FRAMES_REJECTED.labels(code=_code)

# --- for the alerts and the dashboard (monitoring/) ---------------------------------------------

PARTIES_ACTIVE = Gauge(
    "watchparty_parties_active",
    "Parties not ended, counted in MongoDB at each scrape (the same in every process: take the max).",
)

MONGO_SLOW_COMMANDS = Counter(
    "watchparty_mongodb_slow_commands",
    "MongoDB commands at least MONGODB_SLOW_COMMAND_MS slow (the ones logged on watchparty.mongo.slow), "
    "by command and collection.",
    ["command", "collection"],
)

DEPENDENCY_UP = Gauge(
    "watchparty_dependency_up",
    "1 when the dependency answered the readiness check made at this scrape (as /health/ready), else 0.",
    ["dependency"],
)
for _dependency in ("mongodb", "channel_layer"):
    DEPENDENCY_UP.labels(dependency=_dependency)

CHANNEL_LAYER_OUTAGE_SOCKETS = Gauge(
    "watchparty_channel_layer_outage_sockets",
    "Sockets of this process waiting out a channel layer (Redis) outage, to catch up when it answers again.",
)

CHANNEL_LAYER_CATCH_UPS = Counter(
    "watchparty_channel_layer_catch_ups",
    "Sockets sent a fresh party.state after a channel layer (Redis) outage.",
)

WEBSOCKETS_LIMIT = Gauge(
    "watchparty_websockets_limit",
    "Party WebSockets this process accepts at most (WEBSOCKET_MAX_SOCKETS_PER_PROCESS); the next is closed with 1013.",
)

MESSAGE_DELIVERY_SECONDS = Histogram(
    "watchparty_message_delivery_seconds",
    "Time from storing a chat message to forwarding it to a receiving socket (one observation per socket).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
