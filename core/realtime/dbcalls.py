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

Never pass it a service that uses the Django ORM (e.g. one that writes a ModerationAction): those
keep ``sync_to_async``, on the one thread whose connection Channels and Django look after. The one
exception is ``accounts.wsauth.account_active``, a single read that renews its own connection. A socket's frames stay in order: its consumer awaits each call
before it reads the next frame.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_calling = threading.local()


def _db_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=settings.DB_CALL_THREADS, thread_name_prefix="dbcall")
    return _executor


def _run(loop: asyncio.AbstractEventLoop, call: Callable):
    _calling.loop = loop
    try:
        return call()
    finally:
        _calling.loop = None


def calling_loop() -> asyncio.AbstractEventLoop | None:
    """In a ``db_call``, the event loop awaiting it (where the call's broadcasts are sent); else None."""
    return getattr(_calling, "loop", None)


def db_call(func: Callable) -> Callable:
    """``func`` (MongoDB/Redis only, no ORM) as an awaitable that runs on the database call pool.

    Plain ``run_in_executor`` rather than asgiref's ``sync_to_async``: these calls need none of
    what the latter adds per call (context variables copied in and out, its thread-local
    bookkeeping for ``async_to_sync``), which cost the chat path measurable CPU on every frame
    (docs/performance.md, issue 21). A broadcast from within the call reaches the loop through
    ``calling_loop`` (core.realtime.fanout)."""

    @functools.wraps(func)
    async def call(*args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_db_executor(), _run, loop, functools.partial(func, *args, **kwargs))

    return call
