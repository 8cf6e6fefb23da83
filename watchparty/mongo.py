"""The MongoDB client factory: one client per process, created on first use.

With MONGODB_URI set this is a pymongo MongoClient with the pool settings from settings.py.
Without it, an in-process mongomock database stands in so that a fresh checkout runs with
nothing installed; its data lives only as long as the process.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from django.conf import settings
from pymongo import MongoClient
from pymongo.database import Database

logger = logging.getLogger(__name__)

_client_lock = threading.Lock()
_clients: dict[str, Any] = {}

# mongomock applies an update as "find, then write" in Python, so two threads can both pass
# a conditional filter. A real server applies each single-document write atomically; this lock
# gives the embedded database the same guarantee, so code that is correct on MongoDB is also
# correct here (and the concurrency tests mean the same thing on both).
_mongomock_write_lock = threading.RLock()
_MONGOMOCK_WRITES = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "delete_one",
    "delete_many",
    "bulk_write",
    "create_index",
    "create_indexes",
    "drop_index",
)


def _serialize_mongomock_writes() -> None:
    import mongomock.collection

    collection_class = mongomock.collection.Collection
    if getattr(collection_class, "_watchparty_serialized", False):
        return

    def locked(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            with _mongomock_write_lock:
                return method(*args, **kwargs)

        return wrapper

    for name in _MONGOMOCK_WRITES:
        setattr(collection_class, name, locked(getattr(collection_class, name)))
    collection_class._watchparty_serialized = True


def _create_client(uri: str):
    if not uri:
        import mongomock

        _serialize_mongomock_writes()
        logger.warning(
            "MONGODB_URI is not set: using an in-process mongomock database. "
            "Parties and messages will NOT survive a restart, and each process has its own data."
        )
        return mongomock.MongoClient(tz_aware=True)
    from watchparty.monitoring import command_listener

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


_embedded_ready: set[str] = set()


def get_db() -> Database:
    db = get_client()[settings.MONGODB_DB]
    if not settings.MONGODB_URI and settings.MONGODB_DB not in _embedded_ready:
        # No command can reach another process's in-memory database, so the embedded one gets
        # the declared indexes (the unique room code among them) when first used.
        with _client_lock:
            if settings.MONGODB_DB not in _embedded_ready:
                from watchparty.indexes import ensure_indexes

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
