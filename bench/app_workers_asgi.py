"""The app for ``bench/run.py``'s ``:wN`` targets (``uvicorn --workers N``): each worker process
serves from its own copy of a seeded embedded database.

Why copies: without MONGODB_URI the data is the embedded database, which one process holds
(docs/embedded-database.md), and no MongoDB server can run on this machine. So the bench creates
the parties and seats once, in a seed file (through a server of its own, over HTTP), and every
worker starts from a copy of it (``BENCH_EMBEDDED_SEED``): each knows every party and seat, and
stores the messages its own sockets send. Fan-out between the workers goes through Redis as in a
deployment; rate limits and presence are shared through Redis too. What differs from a deployment
on MongoDB: each worker's messages are in its own copy (the bench reads them back from every copy),
and the database's CPU is in the worker's process, as for every app target here.
"""

import os
import sqlite3

seed = os.environ["BENCH_EMBEDDED_SEED"]
copy = f"{seed}.worker-{os.getpid()}.sqlite3"
with sqlite3.connect(seed) as source, sqlite3.connect(copy) as target:
    source.backup(target)  # a consistent copy, whatever the seed server left in its WAL
os.environ["EMBEDDED_DB_PATH"] = copy

from watchparty.asgi import application  # noqa: E402

__all__ = ["application"]
