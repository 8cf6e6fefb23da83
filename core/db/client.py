"""The MongoDB client factory: one client per process, created on first use.

With MONGODB_URI set this is a pymongo MongoClient with the pool settings from settings.py.
Without it, the embedded database (core/db/embedded.py) stands in so that a fresh checkout runs
with nothing installed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from pymongo import MongoClient
from pymongo.database import Database

from core.db import embedded_store
from core.db.embedded import open_embedded

logger = logging.getLogger(__name__)

_client_lock = threading.Lock()
_clients: dict[str, Any] = {}

# How this process opens the embedded database's file: "write" (a server, or a command that
# changes data: holds the file's lock) or "read" (a command that only reads: what the running
# server has committed, without its lock). Chosen before the first use.
_embedded_mode = "write"


def _open_embedded(*, lock_wait_seconds: float):
    return open_embedded(read_only=_embedded_mode == "read", lock_wait_seconds=lock_wait_seconds)


def _create_client(uri: str):
    if not uri:
        return _open_embedded(lock_wait_seconds=settings.EMBEDDED_DB_LOCK_WAIT_SECONDS)
    from core.db.monitoring import command_listener

    return MongoClient(
        uri,
        tz_aware=True,
        maxPoolSize=settings.MONGODB_MAX_POOL_SIZE,
        minPoolSize=settings.MONGODB_MIN_POOL_SIZE,
        maxIdleTimeMS=settings.MONGODB_MAX_IDLE_TIME_MS,
        connectTimeoutMS=settings.MONGODB_CONNECT_TIMEOUT_MS,
        serverSelectionTimeoutMS=settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
        appname="watchparty",
        event_listeners=[command_listener],  # durations for /metrics, the slow-command log
    )


def get_client():
    """The process-wide client for settings.MONGODB_URI (created lazily, thread-safe)."""
    uri = settings.MONGODB_URI
    client = _clients.get(uri)
    if client is None:
        with _client_lock:
            client = _clients.get(uri)
            if client is None:
                client = _clients[uri] = _create_client(uri)
    return client


def _claim_embedded(*, lock_wait_seconds: float) -> None:
    with _client_lock:
        if "" not in _clients:
            _clients[""] = _open_embedded(lock_wait_seconds=lock_wait_seconds)


def open_embedded_for_serving() -> None:
    """A server process opens the embedded database as it starts, so that a second server on the
    same file stops at once with a clear message. It waits EMBEDDED_DB_LOCK_WAIT_SECONDS for the
    lock first: uvicorn --reload starts the new worker as the old one exits. No-op on MongoDB."""
    if using_embedded_database():
        try:
            _claim_embedded(lock_wait_seconds=settings.EMBEDDED_DB_LOCK_WAIT_SECONDS)
        except embedded_store.EmbeddedDatabaseBusy as exc:
            raise SystemExit(f"Cannot start: {exc}") from None


def open_embedded_for_command(*, changes_data: bool) -> None:
    """A manage.py command opens the embedded database: read-only when it only reads (it shows
    what the running server has committed), for writing when it changes data, which it may do only
    while no server holds the file. Raises EmbeddedDatabaseBusy then. No-op on MongoDB."""
    global _embedded_mode
    if not using_embedded_database() or "" in _clients:
        return  # already open in this process (a test, a shell): as it is
    if not changes_data:
        _embedded_mode = "read"
        return
    _embedded_mode = "write"
    try:
        _claim_embedded(lock_wait_seconds=0)
    except embedded_store.EmbeddedDatabaseBusy as exc:
        raise embedded_store.EmbeddedDatabaseBusy(
            f"{exc} This command changes data: stop the server (Ctrl+C in ./dev serve) and run it "
            "again, or run it on MongoDB (MONGODB_URI)."
        ) from None


def embedded_database_description() -> str:
    """Where the embedded database lives, for a command's output."""
    client = _clients.get("")
    read_only = client._watchparty_durable.read_only if client is not None else _embedded_mode == "read"
    return f"the embedded database {settings.EMBEDDED_DB_PATH}" + (" (read-only)" if read_only else "")


_embedded_ready: set[str] = set()


def get_db() -> Database:
    client = get_client()
    db = client[settings.MONGODB_DB]
    if (
        not settings.MONGODB_URI
        and not client._watchparty_durable.read_only  # a read-only command shows the file as it is
        and settings.MONGODB_DB not in _embedded_ready
    ):
        # A fresh embedded database gets the declared indexes (the unique room code among them)
        # when first used, as nobody may have run `manage.py ensure_indexes` on it.
        with _client_lock:
            if settings.MONGODB_DB not in _embedded_ready:
                from core.db.indexes import ensure_indexes

                ensure_indexes(db)
                _embedded_ready.add(settings.MONGODB_DB)
    return db


def using_embedded_database() -> bool:
    return not settings.MONGODB_URI


def ping() -> bool:
    """True when the database answers a ping."""
    try:
        get_db().command("ping")
    except Exception:  # noqa: BLE001 - any failure means "not ready"; callers report, never raise
        logger.warning("MongoDB ping failed", exc_info=True)
        return False
    return True
