"""Calling services that wait only on MongoDB and Redis from async code, off the shared sync thread.

``sync_to_async`` runs every call on one thread per process by default (``thread_sensitive=True``)
so that Django's ORM, whose connections belong to a thread, is never used from two threads at
once. Every socket of the process then waits in that one queue, and on a remote MongoDB each
repository call holds it for a network round trip (1-5 ms): one process could not serve more
than a few hundred actions a second however idle its CPU. Services that touch only MongoDB and
Redis need no such thread: pymongo's ``MongoClient`` and redis-py's client are thread-safe with
connection pools of their own, and the embedded database applies each write under one lock
(``core/db/embedded.py``). ``db_call`` runs them on a bounded pool of ``DB_CALL_THREADS`` threads
instead (docs/performance.md measures it).

Never pass it a service that touches the Django ORM (e.g. one that writes a ModerationAction):
those keep ``sync_to_async``. A socket's frames stay in order: its consumer awaits each call
before it reads the next frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _db_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=settings.DB_CALL_THREADS, thread_name_prefix="dbcall")
    return _executor


def db_call(func: Callable) -> Callable:
    """``func`` (MongoDB/Redis only, no ORM) as an awaitable that runs on the database call pool."""
    return sync_to_async(func, thread_sensitive=False, executor=_db_executor())
