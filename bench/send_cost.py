"""Where one chat.send's CPU goes, part by part, on the embedded database and a real Redis.

    .venv/bin/python bench/send_cost.py [--sends 1000] [--redis-url redis://127.0.0.1:6379/14]

Calls ``chat.services.message_send`` in a loop on one thread, in a party of 10, with its parts
wrapped in timers of that thread's CPU (``time.thread_time``): the party read and seat check, the
two send limits (one Redis script), the insert (mongomock written through to SQLite), the payload,
the broadcast (``async_to_sync`` here, as a view sends it; on the server it is one hop to the
event loop). A fresh embedded database and relational database in a temporary folder; the Redis
database given is flushed first. Send limits are lifted for the run.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="send-cost-"))
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="watchparty.settings",
        EMBEDDED_DB_PATH=str(workdir / "embedded.sqlite3"),
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        REDIS_URL=args.redis_url,
        CHAT_SEND_RATE_LIMIT_COUNT="100000000",
        CHAT_SEND_USER_RATE_LIMIT_COUNT="100000000",
    )
    import django

    django.setup()
    import redis
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from chat import services as chat_services
    from parties import services as party_services

    redis.Redis.from_url(args.redis_url).flushdb()
    call_command("migrate", verbosity=0)
    users = [User.objects.create_user(username=f"sender{i}", password="x") for i in range(10)]
    party = party_services.party_create(
        user=users[0], data=party_services.PartySettings(content_id="film", content_type="vod")
    )
    for user in users[1:]:
        party_services.party_join(room_code=party.room_code, user=user)

    spent: collections.Counter[str] = collections.Counter()

    def timed(name, func):
        def wrapper(*a, **kw):
            start = time.thread_time()
            try:
                return func(*a, **kw)
            finally:
                spent[name] += time.thread_time() - start

        return wrapper

    chat_services._party_for_writing = timed("party read and seat check", chat_services._party_for_writing)
    chat_services._check_chat_rate = timed("send limits (one Redis script)", chat_services._check_chat_rate)
    chat_services.repository.insert_message = timed("insert", chat_services.repository.insert_message)
    chat_services.message_payload = timed("payload", chat_services.message_payload)
    chat_services.broadcast = timed("broadcast", chat_services.broadcast)

    def send(i: int) -> None:
        chat_services.message_send(
            party_id=party.id, user=users[i % 10], text=f"message {i} lol", message_type="text", client_id=f"c{i}"
        )

    for i in range(50):  # warm-up
        send(-1 - i)
    spent.clear()
    start = time.thread_time()
    for i in range(args.sends):
        send(i)
    total = time.thread_time() - start
    print(f"{args.sends} sends, thread CPU per send: {total / args.sends * 1e6:.0f} us")
    for name, seconds in spent.most_common():
        print(f"  {name}: {seconds / args.sends * 1e6:.0f} us")


if __name__ == "__main__":
    main()
