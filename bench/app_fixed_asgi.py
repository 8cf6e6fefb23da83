"""Bench-only experiment: the app with the fixes docs/performance.md proposes, applied by
monkeypatching at start-up so that they can be measured side by side with the app as it is. The
product code is not changed by this module; the `appfix-<server>-<layer>` targets of bench/run.py
serve it. BENCH_FIXES (comma-separated; default ``dispatch,payloads``) picks the fixes:

- ``dispatch``: Channels 4.2+ runs ``close_old_connections`` through ``sync_to_async`` (the single
  shared thread) before EVERY consumer handler, so each forwarded ``chat.message`` waits for a turn
  on the thread that also runs every ``chat.send``. The party consumer's forward handlers touch no
  relational database, so they are dispatched directly.
- ``payloads``: ``chat.services.message_payload`` builds the Message dict directly instead of
  instantiating a DRF ``MessageSerializer`` per message (DRF deep-copies the declared fields on
  every instantiation); the output is the same JSON. Pages (party.state, history, resume) call it
  once per message.
- ``threads``: ``chat.send`` runs ``message_send`` with ``thread_sensitive=False`` (a thread pool)
  instead of on that one shared thread; the service uses only pymongo/Redis clients (thread-safe),
  never the Django ORM.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

from watchparty.asgi import application  # noqa: E402,F401  (sets Django up)

from asgiref.sync import sync_to_async  # noqa: E402
from channels.consumer import get_handler_name  # noqa: E402

from chat import consumers, services as chat_services  # noqa: E402

FIXES = {f.strip() for f in os.environ.get("BENCH_FIXES", "dispatch,payloads").split(",") if f.strip()}
PartyConsumer = consumers.PartyConsumer

if "dispatch" in FIXES:
    _FORWARDED = {
        "chat.message",
        "reaction.update",
        "playback.state",
        "message.deleted",
        "message.translated",
        "typing",
        "participant.joined",
    }
    _dispatch = PartyConsumer.dispatch

    async def dispatch(self, message):
        if message.get("type") in _FORWARDED:
            await getattr(self, get_handler_name(message))(message)
        else:
            await _dispatch(self, message)

    PartyConsumer.dispatch = dispatch

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

if "payloads" in FIXES:
    from watchparty.timeutil import isoformat_z

    def message_payload(message):
        return {
            "id": str(message.id),
            "party_id": str(message.party_id),
            "user_id": str(message.user_id),
            "user_name": str(message.user_name),
            "message": str(message.message),
            "message_type": message.message_type,
            "source_language": None if message.source_language is None else str(message.source_language),
            "translations": {str(k): str(v) for k, v in message.translations.items()},
            "reactions": {str(k): [str(u) for u in v] for k, v in message.reactions.items()},
            "client_id": None if message.client_id is None else str(message.client_id),
            "timestamp": isoformat_z(message.timestamp),
        }

    chat_services.message_payload = message_payload

if "gclog" in FIXES or "gcfreeze" in FIXES:
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

if "gcfreeze" in FIXES:
    # Move everything allocated while starting (Django, DRF, the app) out of the collector's reach,
    # and collect the old generation less often.
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
