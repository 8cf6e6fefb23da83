"""The MongoDB command listener: slow-command log, the admin's ring buffer, command durations.

mongomock emits no command events, so most tests feed the listener the same pymongo event objects
a real client publishes; one test runs a real command when MONGODB_TEST_URI names a server.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from pymongo.monitoring import CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent

from core.db import monitoring
from core.db.monitoring import MongoCommandListener, command_shapes, recent_slow_commands, shape
from tests.support import mongodb_server_uri

ADDRESS = ("127.0.0.1", 27017)
_request_ids = itertools.count(1000)
SLOW_LOGGER = "watchparty.mongo.slow"


@pytest.fixture(autouse=True)
def _empty_buffer():
    monitoring.clear_slow_commands()
    yield
    monitoring.clear_slow_commands()


def run(listener, command: dict, *, ms: float, db: str = "watchparty", fail: bool = False) -> None:
    """Feed the listener one command as pymongo would: started, then succeeded (or failed)."""
    request_id = next(_request_ids)
    name = next(iter(command))
    listener.started(CommandStartedEvent(command, db, request_id, ADDRESS, request_id))
    duration = timedelta(milliseconds=ms)
    if fail:
        failure = {"ok": 0, "errmsg": 'E11000 duplicate key: { room_code: "SECRET" }', "code": 11000}
        listener.failed(CommandFailedEvent(duration, failure, name, request_id, ADDRESS, request_id, database_name=db))
    else:
        listener.succeeded(
            CommandSucceededEvent(duration, {"ok": 1}, name, request_id, ADDRESS, request_id, database_name=db)
        )


def histogram_count(command: str, collection: str) -> float:
    value = REGISTRY.get_sample_value(
        "watchparty_mongodb_command_duration_seconds_count", {"command": command, "collection": collection}
    )
    return value or 0.0


def test_shape_keeps_fields_and_operators_and_drops_values():
    """A filter's shape keeps field names and operators and shows every value as "?"."""
    filter_ = {
        "party_id": "65a1b2c3d4e5f60718293a4b",
        "timestamp": {"$lt": "2026-01-01"},
        "$or": [{"user_id": "7"}, {"reactions.👍": {"$exists": True}}],
        "_id": {"$in": ["a", "b", "c"]},
        "playback": {"state": "playing"},
    }
    assert shape(filter_) == {
        "party_id": "?",
        "timestamp": {"$lt": "?"},
        "$or": [{"user_id": "?"}, {"reactions.👍": {"$exists": "?"}}],
        "_id": {"$in": "?"},
        "playback": {"state": "?"},
    }


def test_shapes_per_command():
    """find, update, delete, aggregate and findAndModify each show the shape of their query and sort."""
    assert command_shapes(
        "find", {"find": "messages", "filter": {"party_id": "p"}, "sort": {"timestamp": -1, "_id": -1}}
    ) == (
        {"party_id": "?"},
        {"timestamp": -1, "_id": -1},
    )
    update = {"update": "messages", "updates": [{"q": {"_id": 1, "party_id": "p"}, "u": {"$set": {"x": "secret"}}}]}
    assert command_shapes("update", update) == ({"_id": "?", "party_id": "?"}, None)
    two = {"delete": "messages", "deletes": [{"q": {"_id": 1}, "limit": 1}, {"q": {"party_id": "p"}, "limit": 0}]}
    assert command_shapes("delete", two) == ([{"_id": "?"}, {"party_id": "?"}], None)
    same = {"delete": "messages", "deletes": [{"q": {"_id": 1}, "limit": 1}, {"q": {"_id": 2}, "limit": 1}]}
    assert command_shapes("delete", same) == ({"_id": "?"}, None)
    pipeline = [
        {"$project": {"a": 1}},
        {"$match": {"party_id": "p", "n": {"$gte": 3}}},
        {"$sort": {"t": 1}},
        {"$match": {"z": 1}},
    ]
    assert command_shapes("aggregate", {"aggregate": "messages", "pipeline": pipeline}) == (
        {"party_id": "?", "n": {"$gte": "?"}},
        {"t": 1},
    )
    fam = {"findAndModify": "parties", "query": {"_id": 1, "ended_at": None}, "update": {"$set": {"a": 1}}}
    assert command_shapes("findAndModify", fam) == ({"_id": "?", "ended_at": "?"}, None)
    assert command_shapes("insert", {"insert": "messages", "documents": [{"message": "secret"}]}) == (None, None)


def test_every_command_is_slow_at_threshold_zero(caplog):
    """At a threshold of 0 a find is logged as slow with its collection, duration and filter shape, never its values."""
    listener = MongoCommandListener(threshold_ms=0)
    command = {
        "find": "messages",
        "filter": {"party_id": "65a1b2c3d4e5f60718293a4b", "timestamp": {"$lt": "2026-05-01"}},
        "sort": {"timestamp": -1, "_id": -1},
        "limit": 51,
    }
    with caplog.at_level(logging.WARNING, logger=SLOW_LOGGER):
        run(listener, command, ms=3)
    [record] = [r for r in caplog.records if r.name == SLOW_LOGGER]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "find" in text and "watchparty.messages" in text and "3.0 ms" in text
    assert '{"party_id": "?", "timestamp": {"$lt": "?"}}' in text
    assert '{"timestamp": -1, "_id": -1}' in text
    assert "65a1b2c3d4e5f60718293a4b" not in text and "2026-05-01" not in text
    [entry] = recent_slow_commands()
    assert entry["command"] == "find" and entry["collection"] == "messages"
    assert entry["duration_ms"] == 3.0
    assert entry["filter_shape"] == {"party_id": "?", "timestamp": {"$lt": "?"}}
    assert entry["sort_shape"] == {"timestamp": -1, "_id": -1}
    assert entry["failed"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["at"])


def test_slow_commands_are_counted_for_the_alert(settings):
    """Only commands over MONGODB_SLOW_COMMAND_MS add to watchparty_mongodb_slow_commands_total{command,collection}."""
    settings.MONGODB_SLOW_COMMAND_MS = 50
    labels = {"command": "find", "collection": "slowcount"}

    def counted() -> float:
        return REGISTRY.get_sample_value("watchparty_mongodb_slow_commands_total", labels) or 0.0

    before = counted()
    listener = MongoCommandListener()
    run(listener, {"find": "slowcount", "filter": {}}, ms=10)
    run(listener, {"find": "slowcount", "filter": {}}, ms=60)
    run(listener, {"find": "slowcount", "filter": {}}, ms=200)
    assert counted() == before + 2


def test_only_commands_over_the_setting_are_logged(settings, caplog):
    """With MONGODB_SLOW_COMMAND_MS=100 a 5 ms command is not logged and a 250 ms one is."""
    settings.MONGODB_SLOW_COMMAND_MS = 100
    listener = MongoCommandListener()
    with caplog.at_level(logging.WARNING, logger=SLOW_LOGGER):
        run(listener, {"find": "parties", "filter": {"room_code": "ABC123", "ended_at": None}}, ms=5)
        assert recent_slow_commands() == []
        run(
            listener,
            {"update": "parties", "updates": [{"q": {"_id": "x", "ended_at": None}, "u": {"$set": {"a": 1}}}]},
            ms=250,
        )
    [entry] = recent_slow_commands()
    assert entry["command"] == "update" and entry["collection"] == "parties" and entry["duration_ms"] == 250.0
    assert entry["filter_shape"] == {"_id": "?", "ended_at": "?"}
    assert len([r for r in caplog.records if r.name == SLOW_LOGGER]) == 1


def test_negative_threshold_turns_the_log_off(settings, caplog):
    """A negative MONGODB_SLOW_COMMAND_MS logs nothing, however slow the command."""
    settings.MONGODB_SLOW_COMMAND_MS = -1
    with caplog.at_level(logging.WARNING, logger=SLOW_LOGGER):
        run(MongoCommandListener(), {"find": "parties", "filter": {}}, ms=60_000)
    assert recent_slow_commands() == []
    assert not [r for r in caplog.records if r.name == SLOW_LOGGER]


def test_failed_slow_command_is_logged_without_the_error_text(caplog):
    """A slow command that fails is logged as failed, without the server's message (it can hold values)."""
    listener = MongoCommandListener(threshold_ms=10)
    with caplog.at_level(logging.WARNING, logger=SLOW_LOGGER):
        run(listener, {"insert": "parties", "documents": [{"room_code": "SECRET"}]}, ms=40, fail=True)
    [entry] = recent_slow_commands()
    assert entry["command"] == "insert" and entry["failed"] is True and entry["filter_shape"] is None
    assert "SECRET" not in caplog.text and "(failed)" in caplog.text


def test_listener_never_raises_and_forgets_finished_commands():
    """Broken or unmatched events are ignored, and a finished command leaves nothing behind."""
    listener = MongoCommandListener(threshold_ms=0)
    listener.started(object())
    listener.succeeded(object())
    listener.failed(object())
    # An outcome whose start was never seen is still measured, without a collection.
    listener.succeeded(CommandSucceededEvent(timedelta(milliseconds=1), {"ok": 1}, "find", 1, ADDRESS, 1))
    run(listener, {"ping": 1}, ms=1, db="admin")
    run(listener, {"find": "parties", "filter": {}}, ms=1)
    assert listener._pending == {}
    commands = [e["command"] for e in recent_slow_commands()]
    assert commands == ["find", "ping", "find"]


def test_ring_buffer_keeps_the_latest_fifty_newest_first():
    """The admin sees at most the 50 latest slow commands, newest first, and `limit` of them."""
    listener = MongoCommandListener(threshold_ms=0)
    for i in range(60):
        run(listener, {"find": f"c{i}", "filter": {}}, ms=1)
    assert [e["collection"] for e in recent_slow_commands(limit=3)] == ["c59", "c58", "c57"]
    everything = recent_slow_commands(limit=1000)
    assert len(everything) == monitoring.SLOW_COMMANDS_KEPT == 50
    assert everything[-1]["collection"] == "c10"
    assert recent_slow_commands(limit=0) == []
    # What a reader gets is a copy: changing it does not change the buffer.
    everything[0]["filter_shape"]["x"] = "?"
    assert recent_slow_commands(limit=1)[0]["filter_shape"] == {}


def test_ring_buffer_is_safe_across_threads():
    """Commands finishing on many threads at once are all recorded while a reader keeps reading."""
    listener = MongoCommandListener(threshold_ms=0)
    stop = threading.Event()
    errors = []

    def read():
        while not stop.is_set():
            try:
                recent_slow_commands(limit=50)
            except Exception as exc:  # pragma: no cover - the failure this test looks for
                errors.append(exc)

    def write(n):
        for i in range(200):
            run(listener, {"find": f"t{n}", "filter": {"i": i}}, ms=1)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert not errors
    assert len(recent_slow_commands(limit=50)) == 50
    assert listener._pending == {}


def test_command_durations_feed_the_histogram():
    """Every finished command is counted in the duration histogram by command and collection."""
    listener = MongoCommandListener(threshold_ms=-1)
    before = histogram_count("aggregate", "messages")
    run(listener, {"aggregate": "messages", "pipeline": [{"$match": {"party_id": "p"}}], "cursor": {}}, ms=2)
    run(listener, {"aggregate": "messages", "pipeline": [], "cursor": {}}, ms=2, fail=True)
    assert histogram_count("aggregate", "messages") == before + 2
    total = REGISTRY.get_sample_value(
        "watchparty_mongodb_command_duration_seconds_sum", {"command": "aggregate", "collection": "messages"}
    )
    assert total >= 0.004


def test_real_client_is_created_with_the_listener():
    """The pymongo client for a MONGODB_URI carries the command listener."""
    from core.db.client import _create_client

    client = _create_client("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100")
    try:
        assert monitoring.command_listener in client.options.event_listeners
    finally:
        client.close()


def test_real_server_command_is_logged(settings, mongo_db, caplog):
    """On a real server, with MONGODB_SLOW_COMMAND_MS=0, a query is logged with its filter shape."""
    mongodb_server_uri()  # mongomock publishes no command events
    settings.MONGODB_SLOW_COMMAND_MS = 0
    with caplog.at_level(logging.WARNING, logger=SLOW_LOGGER):
        mongo_db["parties"].find_one({"room_code": "NOSUCH", "ended_at": None})
    entries = [e for e in recent_slow_commands(limit=50) if e["command"] == "find" and e["collection"] == "parties"]
    assert entries, recent_slow_commands(limit=50)
    assert entries[0]["filter_shape"] == {"room_code": "?", "ended_at": "?"}
    assert entries[0]["database"] == settings.MONGODB_DB
    assert "NOSUCH" not in caplog.text and "find" in caplog.text
