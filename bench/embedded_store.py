"""What the embedded database's write-through to SQLite costs: per write, and to load at start.

    .venv/bin/python bench/embedded_store.py [--documents 10000]

Inserts chat-message-like documents and updates them in place ($push, as a reaction does), once on
the patched mongomock alone (memory only, as before) and once written through to a SQLite file
(core/db/embedded_store.py), then reopens the file and times the load. Prints one line each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

import django  # noqa: E402

django.setup()

import mongomock  # noqa: E402
from bson import ObjectId  # noqa: E402

from core.db import embedded  # noqa: E402
from core.db.embedded_store import DurableFile  # noqa: E402
from core.db.indexes import ensure_indexes  # noqa: E402
from core.timeutil import utcnow  # noqa: E402


def patched_client(store=None):
    embedded._serialize_mongomock_writes()
    embedded._expire_like_mongodb()
    embedded._index_unique_keys()
    embedded._write_updates_through()
    embedded._find_by_id_directly()
    embedded._stop_reading_at_the_limit()
    return mongomock.MongoClient(tz_aware=True, **({"_store": store} if store is not None else {}))


def message(party_id: ObjectId, n: int) -> dict:
    return {
        "party_id": party_id,
        "user_id": str(n % 50),
        "user_name": f"user {n % 50}",
        "text": f"message number {n}, of a typical length for a chat line",
        "message_type": "text",
        "timestamp": utcnow(),
        "client_id": f"c{n}",
        "reactions": [],
        "source_language": None,
        "translations": {},
    }


def run(db, count: int) -> tuple[list[float], list[float]]:
    ensure_indexes(db)
    messages = db["chat_messages"]
    party_id = ObjectId()
    inserts, updates = [], []
    ids = []
    for n in range(count):
        started = time.perf_counter()
        ids.append(messages.insert_one(message(party_id, n)).inserted_id)
        inserts.append(time.perf_counter() - started)
    for n, message_id in enumerate(ids[: min(count, 2000)]):
        started = time.perf_counter()
        messages.update_one({"_id": message_id}, {"$push": {"reactions": {"emoji": "👍", "user_id": str(n)}}})
        updates.append(time.perf_counter() - started)
    return inserts, updates


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {1000 * statistics.median(values):.3f} ms, p99 {1000 * p99:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    args = parser.parse_args()

    inserts, updates = run(patched_client()["bench"], args.documents)
    print(f"memory only   : insert {ms(inserts)}; update {ms(updates)}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "embedded.sqlite3"
        durable = DurableFile(path)
        inserts, updates = run(patched_client(durable.load())["bench"], args.documents)
        durable.close()
        print(f"write-through : insert {ms(inserts)}; update {ms(updates)}")
        size = path.stat().st_size
        started = time.perf_counter()
        durable = DurableFile(path, read_only=True)
        client = patched_client(durable.load())
        loaded = time.perf_counter() - started
        count = client["bench"]["chat_messages"].count_documents({})
        durable.close()
        print(f"load          : {count} documents ({size / 1e6:.1f} MB file) in {loaded:.3f} s")


if __name__ == "__main__":
    main()
