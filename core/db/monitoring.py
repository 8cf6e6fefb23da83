"""MongoDB command monitoring: durations for /metrics, and a log of slow commands.

``MongoCommandListener`` is registered on the real pymongo client (core.db.client). It sees every
command, so it does little per event: on start it keeps the collection and a reference to the
command (only for commands that name a collection), on success or failure it observes the duration
and, only when the command was slow, works out the query's shape.

A slow command (``MONGODB_SLOW_COMMAND_MS``, default 100; a negative value turns the log off) is
logged on ``watchparty.mongo.slow`` at WARNING and kept in a small ring buffer that the admin reads
with ``recent_slow_commands()``. Logs and the buffer hold the *shape* of the filter and sort: field
names and operators, never values (``{"party_id": "?", "timestamp": {"$lt": "?"}}``).

mongomock (the embedded database) emits no command events, so nothing is recorded there.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from pymongo import monitoring

from core.http.metrics import MONGO_COMMAND_SECONDS, MONGO_SLOW_COMMANDS
from core.timeutil import isoformat_z

slow_logger = logging.getLogger("watchparty.mongo.slow")

SLOW_COMMANDS_KEPT = 50
# Started commands wait here for their outcome; a lost outcome must not grow this without bound.
_MAX_PENDING = 10_000
_MAX_SHAPE_DEPTH = 12
VALUE = "?"

_slow_lock = threading.Lock()
_slow_commands: deque[dict[str, Any]] = deque(maxlen=SLOW_COMMANDS_KEPT)


# --- shapes ----------------------------------------------------------------------------------


def shape(value: Any, _depth: int = 0) -> Any:
    """``value`` with every leaf value replaced by ``"?"``; field names and operators stay.

    Lists of documents (``$and``, ``$or``, ``$nor``) keep one shape per element; a list of plain
    values (``$in``) becomes a single ``"?"`` (its length is not shown either).
    """
    if _depth > _MAX_SHAPE_DEPTH:
        return VALUE
    if isinstance(value, Mapping):
        return {str(key): shape(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, Mapping) for item in value):
        return [shape(item, _depth + 1) for item in value]
    return VALUE


def sort_shape(sort: Any) -> Any:
    """A sort document as it is: directions (1, -1) are not data; anything else is shaped."""
    if not isinstance(sort, Mapping):
        return None if sort is None else VALUE
    return {
        str(key): direction if isinstance(direction, int) and direction in (1, -1) else shape(direction)
        for key, direction in sort.items()
    }


def _one_or_many(shapes: list[Any]) -> Any:
    unique: list[Any] = []
    for item in shapes:
        if item not in unique:
            unique.append(item)
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


def command_shapes(command_name: str, command: Mapping[str, Any]) -> tuple[Any, Any]:
    """(filter shape, sort shape) of a command document; None where the command has none.

    find: ``filter``/``sort``; update and delete: the ``q`` of each statement (one shape when they
    agree, else a list); aggregate: the first ``$match`` and ``$sort`` stages; findAndModify,
    count, distinct: ``query`` (and ``sort``).
    """
    if command_name == "find":
        return shape(command.get("filter") or {}), sort_shape(command.get("sort"))
    if command_name in ("update", "delete"):
        statements = command.get("updates" if command_name == "update" else "deletes") or []
        return _one_or_many([shape(s.get("q") or {}) for s in statements if isinstance(s, Mapping)]), None
    if command_name == "aggregate":
        match = sort = None
        for stage in command.get("pipeline") or []:
            if not isinstance(stage, Mapping):
                continue
            if match is None and "$match" in stage:
                match = shape(stage["$match"])
            if sort is None and "$sort" in stage:
                sort = sort_shape(stage["$sort"])
        return match, sort
    if command_name in ("findAndModify", "findandmodify"):
        return shape(command.get("query") or {}), sort_shape(command.get("sort"))
    if command_name in ("count", "distinct"):
        return shape(command.get("query") or {}), None
    return None, None


# --- the ring buffer ---------------------------------------------------------------------------


def recent_slow_commands(limit: int = 20) -> list[dict[str, Any]]:
    """The latest slow commands of this process, newest first (at most ``limit``; 50 are kept).

    Each: ``command``, ``collection``, ``database``, ``duration_ms``, ``filter_shape``,
    ``sort_shape``, ``failed`` and ``at`` (ISO 8601 UTC with a Z)."""
    if limit <= 0:
        return []
    with _slow_lock:
        latest = list(_slow_commands)[-limit:]
    return [copy.deepcopy(entry) for entry in reversed(latest)]


def clear_slow_commands() -> None:
    with _slow_lock:
        _slow_commands.clear()


def _remember(entry: dict[str, Any]) -> None:
    with _slow_lock:
        _slow_commands.append(entry)


# --- the listener ------------------------------------------------------------------------------


def _collection_of(command_name: str, command: Mapping[str, Any]) -> str | None:
    if command_name == "getMore":
        target = command.get("collection")
    else:
        target = command.get(command_name)
    return target if isinstance(target, str) else None


class MongoCommandListener(monitoring.CommandListener):
    """Command durations into /metrics; slow commands into the log and ``recent_slow_commands``.

    ``threshold_ms`` None reads ``settings.MONGODB_SLOW_COMMAND_MS`` at each outcome (a cached
    attribute read), so a changed setting applies to the running client. Never raises.
    """

    def __init__(self, threshold_ms: float | None = None):
        self.threshold_ms = threshold_ms
        # (request_id, connection_id) -> (collection, command). Plain dict operations are atomic.
        self._pending: dict[tuple[Any, Any], tuple[str, Mapping[str, Any]]] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def _threshold_ms(self) -> float:
        if self.threshold_ms is not None:
            return self.threshold_ms
        return getattr(settings, "MONGODB_SLOW_COMMAND_MS", 100)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        try:
            command = event.command
            collection = _collection_of(event.command_name, command)
            if collection is None:
                return  # ping, hello, endSessions...: nothing to remember
            if len(self._pending) >= _MAX_PENDING:
                self._pending.clear()
            self._pending[(event.request_id, event.connection_id)] = (collection, command)
        except Exception:  # noqa: BLE001 - monitoring must never affect a command
            pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finish(event, failed=False)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finish(event, failed=True)

    def _finish(self, event, *, failed: bool) -> None:
        try:
            pending = self._pending.pop((event.request_id, event.connection_id), None)
            collection, command = pending if pending is not None else ("", None)
            micros = event.duration_micros
            key = (event.command_name, collection)
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = MONGO_COMMAND_SECONDS.labels(*key)
            histogram.observe(micros / 1_000_000)
            threshold = self._threshold_ms()
            if threshold >= 0 and micros >= threshold * 1000:
                MONGO_SLOW_COMMANDS.labels(*key).inc()
                self._slow(event, collection, command, failed=failed)
        except Exception:  # noqa: BLE001 - monitoring must never affect a command
            pass

    def _slow(self, event, collection: str, command: Mapping[str, Any] | None, *, failed: bool) -> None:
        filter_shape, sort = command_shapes(event.command_name, command) if command else (None, None)
        entry = {
            "command": event.command_name,
            "collection": collection,
            "database": getattr(event, "database_name", "") or "",
            "duration_ms": round(event.duration_micros / 1000, 3),
            "filter_shape": filter_shape,
            "sort_shape": sort,
            "failed": failed,
            "at": isoformat_z(datetime.now(timezone.utc)),
        }
        _remember(entry)
        slow_logger.warning(
            "Slow MongoDB command %s on %s.%s took %.1f ms%s; filter %s; sort %s",
            entry["command"],
            entry["database"],
            collection or "-",
            entry["duration_ms"],
            " (failed)" if failed else "",
            json.dumps(filter_shape, ensure_ascii=False, default=str),
            json.dumps(sort, ensure_ascii=False, default=str),
        )


# The one listener the process registers on its MongoClient.
command_listener = MongoCommandListener()
