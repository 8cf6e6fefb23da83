"""Bench-only experiments: the app with changes that docs/performance.md measured but the product
does not (or not yet) have, applied by monkeypatching at start-up so that they can be measured side
by side with the app as it is. The `appfix-<server>-<layer>` targets of bench/run.py serve it.
(The ``dispatch``, ``payloads``, ``gcfreeze`` and ``threads`` changes measured here earlier are now in
chat/consumers.py, chat/services.py, watchparty/asgi.py and core/realtime/dbcalls.py.) BENCH_FIXES
(comma-separated; default ``onethread``) picks them:

- ``onethread``: the app as it was before core/realtime/dbcalls.py: every ``db_call`` (connect's
  access check, presence and first page; every frame's rate check and service call; disconnect's
  presence; the catch-up after a layer outage) runs on the one shared sync thread
  (``sync_to_async``, ``thread_sensitive=True``) instead of the database call pool; to measure that
  pool side by side with the app (docs/performance.md).
- ``nohop``: a client's frame (``websocket.receive``) skips channels' ``close_old_connections`` hop
  onto the shared sync thread. Adopted by the product in issue 21 (docs/performance.md, H), so it
  changes nothing now; kept so that old commands still run.
- ``gclog``: log every garbage collection over 20 ms (a diagnostic).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

from asgiref.sync import sync_to_async  # noqa: E402

from chat import consumers  # noqa: E402
from watchparty.asgi import application  # noqa: E402,F401  (sets Django up)

FIXES = {f.strip() for f in os.environ.get("BENCH_FIXES", "onethread").split(",") if f.strip()}

if "onethread" in FIXES:
    import sys

    from core.realtime import dbcalls

    # Every module that imported db_call (the consumer's connect, frames, rate checks and
    # disconnect; the layer-outage catch-up), found rather than listed, so that a new caller
    # cannot stay on the pool and make the comparison unfair.
    _patched = [
        name
        for name, module in list(sys.modules.items())
        if module is not None and name != dbcalls.__name__ and getattr(module, "db_call", None) is dbcalls.db_call
    ]
    for name in _patched:
        sys.modules[name].db_call = sync_to_async
    dbcalls.db_call = sync_to_async
    assert {"chat.consumers", "chat.layer_resilience"} <= set(_patched), _patched

if "gclog" in FIXES:
    # Diagnostics: log every garbage collection that takes longer than 20 ms.
    import gc
    import sys
    import time as _time

    _gc_start = [0.0]

    def _gc_callback(phase, info):
        if phase == "start":
            _gc_start[0] = _time.perf_counter()
        else:
            ms = 1000 * (_time.perf_counter() - _gc_start[0])
            if ms > 20:
                print(
                    f"BENCH-GC gen{info['generation']} {ms:.0f} ms collected={info['collected']}",
                    file=sys.stderr,
                    flush=True,
                )

    gc.callbacks.append(_gc_callback)

if "nohop" in FIXES:
    _dispatch = consumers.PartyConsumer.dispatch

    async def dispatch(self, message):
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await _dispatch(self, message)

    consumers.PartyConsumer.dispatch = dispatch
