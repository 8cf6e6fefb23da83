"""Two app servers in one OS process, for tests/reliability/test_sharded_layer.py:
``python -m tests.reliability.twin_servers PORT PORT``.

Why not two ``python -m watchparty.serve`` processes: without MONGODB_URI the data is the embedded
database, which one process holds (docs/embedded-database.md, "One writer process"), and no
MongoDB server can run on this machine. Two processes would each have parties and messages of
their own, so a socket on one could not join a party made on the other, and the catch-up after an
outage (read from the database) would not find what the other stored.

So each server is what ``watchparty.serve`` runs (uvicorn with its options, watchparty.asgi) on a
port and an event loop of its own, each loop in its own thread. channels-redis keeps one channel
layer per event loop (its own Redis connections, subscriptions and groups), and so does our
outage watchdog: everything that passes between the two servers goes through Redis, exactly as
between two processes. What they share is what every process of a deployment shares: the
database (here in memory, as MongoDB would be), and also this process's CPU and counters.
Stopped by SIGTERM or SIGINT.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def main(ports: list[int]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")
    import uvicorn
    from django.conf import settings

    from watchparty.asgi import application
    from watchparty.serve import uvicorn_options

    servers = [
        uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, **uvicorn_options(settings)))
        for port in ports
    ]
    threads = [threading.Thread(target=server.run, name=f"server-{port}") for server, port in zip(servers, ports)]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for thread in threads:
        thread.start()
    while not stop.wait(0.2):
        if not all(thread.is_alive() for thread in threads):
            break  # a server failed to start: stop the other one too
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(timeout=10)


if __name__ == "__main__":
    main([int(port) for port in sys.argv[1:]])
