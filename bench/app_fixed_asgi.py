"""Bench-only experiments: the app with changes that docs/performance.md measured but the product
does not (or not yet) have, applied by monkeypatching at start-up so that they can be measured side
by side with the app as it is. The `appfix-<server>-<layer>` targets of bench/run.py serve it.
(The ``dispatch``, ``payloads`` and ``gcfreeze`` changes measured here earlier are now in
chat/consumers.py, chat/services.py and watchparty/asgi.py.) BENCH_FIXES (comma-separated; default ``threads``) picks them:

- ``threads``: ``chat.send`` runs ``message_send`` with ``thread_sensitive=False`` (a thread pool)
  instead of on that one shared thread; the service uses only pymongo/Redis clients (thread-safe),
  never the Django ORM.
- ``gclog``: log every garbage collection over 20 ms (a diagnostic).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

from watchparty.asgi import application  # noqa: E402,F401  (sets Django up)

from asgiref.sync import sync_to_async  # noqa: E402

from chat import consumers, services as chat_services  # noqa: E402

FIXES = {f.strip() for f in os.environ.get("BENCH_FIXES", "threads").split(",") if f.strip()}
PartyConsumer = consumers.PartyConsumer

if "threads" in FIXES:

    async def on_chat_send(self, frame):
        data = consumers._validated(consumers.ChatSendSerializer, frame)
        result = await sync_to_async(chat_services.message_send, thread_sensitive=False)(
            party_id=self.party_id,
            user=self.user,
            text=data["message"],
            message_type=data["message_type"],
            client_id=data.get("client_id"),
        )
        if not (result.created and result.delivered):
            await self.send_json({"type": "chat.message", "message": chat_services.message_payload(result.message)})

    PartyConsumer.on_chat_send = on_chat_send
    PartyConsumer.FRAME_HANDLERS = {**PartyConsumer.FRAME_HANDLERS, "chat.send": on_chat_send}

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
                print(f"BENCH-GC gen{info['generation']} {ms:.0f} ms collected={info['collected']}", file=sys.stderr, flush=True)

    gc.callbacks.append(_gc_callback)
