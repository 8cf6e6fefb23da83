import logging
import re

from core.db import client as mongo
from core.db import embedded


def test_real_client_uses_the_pool_settings(settings):
    """With MONGODB_URI set, the client has the documented pool and timeout settings."""
    settings.MONGODB_URI = "mongodb://127.0.0.1:1/?directConnection=true"
    client = mongo.get_client()
    try:
        pool = client.options.pool_options
        assert pool.max_pool_size == 100 and pool.min_pool_size == 10
        assert pool.max_idle_time_seconds == 30
        assert pool.connect_timeout == 5 and client.options.server_selection_timeout == 5
        assert client.codec_options.tz_aware
    finally:
        mongo._clients.pop(settings.MONGODB_URI).close()


def test_one_client_per_process(settings):
    """Every call returns the same client for the same URI."""
    assert mongo.get_client() is mongo.get_client()


def test_embedded_database_warns_where_its_data_lives(settings, caplog, tmp_path):
    """Without MONGODB_URI the start-up warning names the data file and how to move to MongoDB."""
    settings.MONGODB_URI = ""
    settings.EMBEDDED_DB_PATH = str(tmp_path / "data.sqlite3")
    saved = mongo._clients.pop("", None)
    try:
        with caplog.at_level(logging.WARNING, logger="core.db.embedded"):
            mongo.get_client()
        assert str(tmp_path / "data.sqlite3") in caplog.text
        assert "set MONGODB_URI" in caplog.text and "docs/embedded-database.md" in caplog.text
    finally:
        mongo._clients.pop("")._watchparty_durable.close()
        if saved is not None:
            mongo._clients[""] = saved


def test_ping_reports_an_unreachable_server(settings):
    """A server that does not answer makes ping() False, quickly, without raising."""
    settings.MONGODB_URI = "mongodb://127.0.0.1:1/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 200
    try:
        assert mongo.ping() is False
    finally:
        mongo._clients.pop(settings.MONGODB_URI).close()


def test_unique_partial_index_refuses_only_covered_duplicates(mongo_db):
    """A partial unique index refuses a second document with the same keys, but not documents outside its filter."""
    import pytest
    from pymongo.errors import DuplicateKeyError

    items = mongo_db["unique_probe"]
    items.create_index([("owner", 1), ("code", 1)], unique=True, partialFilterExpression={"code": {"$type": "string"}})
    items.insert_one({"owner": "a", "code": "x"})
    items.insert_one({"owner": "b", "code": "x"})  # another owner
    items.insert_one({"owner": "a", "code": None})  # outside the filter
    items.insert_one({"owner": "a", "code": None})
    with pytest.raises(DuplicateKeyError):
        items.insert_one({"owner": "a", "code": "x"})
    with pytest.raises(DuplicateKeyError):
        items.update_one({"owner": "b"}, {"$set": {"owner": "a"}})
    assert items.count_documents({"owner": "a", "code": "x"}) == 1
    assert items.count_documents({"owner": "b"}) == 1


def test_a_unique_index_follows_every_change_to_the_documents(mongo_db):
    """A key freed by an update, a replace or a delete can be used again; a refused update keeps its old key."""
    import pytest
    from pymongo.errors import DuplicateKeyError

    items = mongo_db["unique_follow_probe"]
    items.create_index([("owner", 1), ("code", 1)], unique=True)
    first = items.insert_one({"owner": "a", "code": "x"}).inserted_id
    items.update_one({"_id": first}, {"$set": {"code": "y"}})
    items.insert_one({"owner": "a", "code": "x"})  # freed by the update
    with pytest.raises(DuplicateKeyError):
        items.insert_one({"owner": "a", "code": "y"})
    with pytest.raises(DuplicateKeyError):
        items.update_one({"_id": first}, {"$set": {"code": "x"}})
    assert items.find_one({"_id": first})["code"] == "y"  # the refused update changed nothing
    with pytest.raises(DuplicateKeyError):
        items.insert_one({"owner": "a", "code": "y"})  # still held by the first document
    items.replace_one({"_id": first}, {"owner": "b", "code": "y"})
    items.insert_one({"owner": "a", "code": "y"})  # freed by the replace
    items.find_one_and_delete({"owner": "a", "code": "x"})
    items.insert_one({"owner": "a", "code": "x"})  # freed by the delete
    with pytest.raises(DuplicateKeyError):
        items.find_one_and_update({"owner": "b"}, {"$set": {"owner": "a"}})
    assert sorted((d["owner"], d["code"]) for d in items.find({}, {"_id": 0})) == [("a", "x"), ("a", "y"), ("b", "y")]


def test_a_unique_index_added_later_or_dropped_judges_the_documents_stored_then(mongo_db):
    """An index created over stored documents refuses their keys; after the collection is dropped, its keys are free."""
    import pytest
    from pymongo.errors import DuplicateKeyError

    items = mongo_db["unique_later_probe"]
    items.insert_many([{"code": "x"}, {"code": "y"}])
    items.insert_one({"code": "x", "n": 2})  # no index yet
    items.delete_one({"n": 2})
    items.create_index([("code", 1)], unique=True)
    with pytest.raises(DuplicateKeyError):
        items.insert_one({"code": "y"})
    items.drop()
    items.insert_many([{"code": "y"}, {"code": "y"}])  # the index went with the collection
    assert items.count_documents({"code": "y"}) == 2


def test_lookups_by_id_and_limited_pages_return_exactly_the_matches(mongo_db):
    """find_one by _id honours the rest of the filter, and a sorted, skipped, limited find returns exactly that page."""
    from bson import ObjectId

    items = mongo_db["page_probe"]
    ids = [items.insert_one({"n": n, "tz": "x"}).inserted_id for n in range(30)]
    assert items.find_one({"_id": ids[7]})["n"] == 7
    assert items.find_one({"_id": ids[7], "n": 8}) is None
    assert items.find_one({"_id": ObjectId()}) is None
    assert items.find_one({"_id": str(ids[7])}) is None  # a string is not an ObjectId
    named = mongo_db["named_probe"]
    named.insert_many([{"_id": "room-a"}, {"_id": "room-b"}, {"_id": "hall"}])
    assert sorted(d["_id"] for d in named.find({"_id": re.compile("^room-")})) == ["room-a", "room-b"]
    page = items.find({"n": {"$gte": 5}}, {"n": 1, "_id": 0}).sort("n", -1).skip(3).limit(4)
    assert [d["n"] for d in page] == [26, 25, 24, 23]
    assert [d["n"] for d in items.find({}).sort("n", 1).limit(3)] == [0, 1, 2]
    assert items.count_documents({"n": {"$lt": 10}}) == 10
    items.update_one({"_id": ids[3]}, {"$set": {"n": 100}})
    assert items.find_one({"_id": ids[3]})["n"] == 100


def test_embedded_ttl_monitor_honours_a_partial_filter(mongo_db, monkeypatch):
    """The embedded database's TTL expiry removes only the documents a partial TTL index covers,
    as MongoDB does: an old document outside the filter stays."""
    from datetime import datetime, timedelta, timezone

    import pytest

    from core.db.client import using_embedded_database

    if not using_embedded_database():
        pytest.skip("a real server's TTL monitor runs on its own schedule (once a minute)")
    items = mongo_db["ttl_probe"]
    items.create_index([("at", 1)], expireAfterSeconds=60, partialFilterExpression={"kind": "covered"})
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    items.insert_many([{"kind": "covered", "at": old}, {"kind": "other", "at": old}, {"kind": "covered", "at": None}])
    items._store._watchparty_ttl_ran_at = -1e9  # the once-a-minute monitor is due now
    assert sorted((d["kind"], d["at"] is None) for d in items.find({}, {"_id": 0})) == [
        ("covered", True),
        ("other", False),
    ]


def test_simulated_latency_is_one_wait_per_round_trip(mongo_db, settings, monkeypatch):
    """EMBEDDED_DB_LATENCY_MS waits once per operation a server would answer, however mongomock nests its calls."""
    import pytest

    if settings.MONGODB_URI:
        pytest.skip("a simulation of the embedded database only")
    waits = []
    monkeypatch.setattr(embedded, "_wait_like_a_remote_server", lambda: waits.append(1))
    items = mongo_db["latency_probe"]
    items.insert_one({"n": 0})
    items.insert_many([{"n": n} for n in range(1, 300)])
    items.update_one({"n": 1}, {"$set": {"seen": True}})
    items.find_one_and_update({"n": 2}, {"$set": {"seen": True}})
    assert items.find_one({"n": 3})["n"] == 3
    assert items.count_documents({"seen": True}) == 2
    assert len(list(items.aggregate([{"$match": {"n": {"$lt": 10}}}]))) == 10
    assert len(list(items.find({"n": {"$lt": 50}}).sort("n", -1).limit(20))) == 20  # find
    assert len(list(items.find({}))) == 300  # find, then one getMore after the first batch of 101
    items.delete_one({"n": 0})
    mongo_db.command("ping")
    assert len(waits) == 12


def test_simulated_latency_delays_operations_without_serializing_threads(mongo_db, settings):
    """N operations on one thread take at least N x the latency; threads wait in parallel, as on a network."""
    import threading
    import time

    import pytest

    if settings.MONGODB_URI:
        pytest.skip("a simulation of the embedded database only")
    settings.EMBEDDED_DB_LATENCY_MS = 50
    items = mongo_db["latency_probe"]
    started = time.perf_counter()
    for n in range(5):
        items.insert_one({"n": n})
        items.find_one({"n": n})
    assert time.perf_counter() - started >= 10 * 0.050

    threads = [threading.Thread(target=items.insert_one, args=({"t": n},)) for n in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - started < 8 * 0.050 * 0.75  # not one after the other
    assert items.count_documents({"t": {"$exists": True}}) == 8

    settings.EMBEDDED_DB_LATENCY_MS = 0
    started = time.perf_counter()
    for n in range(20):
        items.find_one({"n": 0})
    assert time.perf_counter() - started < 20 * 0.050 / 2
