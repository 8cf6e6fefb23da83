"""The embedded database: mongomock, patched to behave like a MongoDB server where the app relies
on it (atomic writes, TTL, unique indexes, cursor limits, round trips), with every change written
through to one SQLite file (EMBEDDED_DB_PATH, core/db/embedded_store.py) before the call returns,
so parties and messages survive a restart. One process at a time writes that file.

core/db/client.py opens it when MONGODB_URI is not set.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from typing import Any

from bson.regex import Regex
from django.conf import settings

from core.db import embedded_store

logger = logging.getLogger(__name__)

# mongomock applies an update as "find, then write" in Python, so two threads can both pass
# a conditional filter. A real server applies each single-document write atomically; this lock
# gives the embedded database the same guarantee, so code that is correct on MongoDB is also
# correct here (and the concurrency tests mean the same thing on both).
# Each write is also committed to the embedded database's file before the lock is released.
_mongomock_write_lock = embedded_store.write_lock
_MONGOMOCK_WRITES = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "delete_one",
    "delete_many",
    "bulk_write",
    "create_index",
    "create_indexes",
    "drop_index",
)
# Writes that only the durable file needs serialized (a test drops its database after each test).
_MONGOMOCK_OTHER_WRITES = {
    "mongomock.collection.Collection": ("drop", "drop_indexes", "rename"),
    "mongomock.database.Database": ("drop_collection", "create_collection", "rename_collection"),
    "mongomock.mongo_client.MongoClient": ("drop_database",),
}


def _serialize_mongomock_writes() -> None:
    import importlib

    import mongomock.collection

    collection_class = mongomock.collection.Collection
    if getattr(collection_class, "_watchparty_serialized", False):
        return

    def locked(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            with embedded_store.write_operation():
                return method(*args, **kwargs)

        return wrapper

    for name in _MONGOMOCK_WRITES:
        setattr(collection_class, name, locked(getattr(collection_class, name)))
    for path, names in _MONGOMOCK_OTHER_WRITES.items():
        module_name, _, class_name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        for name in names:
            setattr(cls, name, locked(getattr(cls, name)))
    collection_class._watchparty_serialized = True


def _write_updates_through() -> None:
    """An update changes the stored document in place, without storing it again; mongomock then
    checks it against the unique indexes (every insert and every changing update does), which is
    where the durable store hears of it."""
    import mongomock.collection

    collection_class = mongomock.collection.Collection
    if getattr(collection_class, "_watchparty_write_through", False):
        return
    ensure_uniques = collection_class._ensure_uniques

    def _ensure_uniques(self, new_data):
        document_changed = getattr(self._store, "document_changed", None)
        if document_changed is not None:
            document_changed(embedded_store._stored_key(new_data["_id"]))
        return ensure_uniques(self, new_data)

    collection_class._ensure_uniques = _ensure_uniques
    collection_class._watchparty_write_through = True


# MongoDB's TTL monitor removes expired documents once a minute, in the background. mongomock
# instead scans every document of a collection with a TTL index on every read and write, which
# made each chat operation cost a pass over all stored messages.
TTL_MONITOR_SECONDS = 60


def _expire_like_mongodb() -> None:
    import mongomock
    import mongomock.store
    from mongomock.filtering import filter_applies

    store_class = mongomock.store.CollectionStore
    if getattr(store_class, "_watchparty_ttl_monitor", False):
        return
    remove_expired = store_class._remove_expired_documents
    expire_documents = store_class._expire_documents

    def _expire_documents(self, index):
        # mongomock ignores a TTL index's partialFilterExpression; MongoDB only ever expires the
        # documents the filter covers (chat_messages.archived_at_ttl: archived messages only).
        partial = index.get("partialFilterExpression")
        if partial is None:
            return expire_documents(self, index)
        if len(index["key"]) != 1:
            return None
        field_name = index["key"][0][0]
        expiry, now = int(index["expireAfterSeconds"]), mongomock.utcnow()
        with self._rwlock.reader():
            expired = [
                doc["_id"]
                for doc in self._documents.values()
                if filter_applies(partial, doc) and self._value_meets_expiry(doc.get(field_name), expiry, now)
            ]
        for doc_id in expired:
            del self[doc_id]
        return None

    store_class._expire_documents = _expire_documents

    def _remove_expired_documents(self):
        now = time.monotonic()
        if now - getattr(self, "_watchparty_ttl_ran_at", -TTL_MONITOR_SECONDS) >= TTL_MONITOR_SECONDS:
            self._watchparty_ttl_ran_at = now
            with embedded_store.write_operation():  # the expired documents leave the file in one commit
                remove_expired(self)

    store_class._remove_expired_documents = _remove_expired_documents
    store_class._watchparty_ttl_monitor = True


_MISSING = object()
_unique_keys_lock = threading.RLock()


class _UniqueKeys:
    """One unique index of one embedded collection: its key values -> the _ids holding them."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.ids_by_key: dict[tuple, set] = {}
        self.key_by_id: dict[Any, tuple] = {}

    def put(self, document: dict) -> bool:
        """(Re)index ``document``. False when its key cannot be indexed here (an array, a
        sub-document or an unhashable value: MongoDB's multikey rules), so mongomock must decide."""
        self.drop(document["_id"])
        key = tuple(document.get(field) for field in self.fields)
        if any(isinstance(value, (list, dict)) for value in key):
            return False
        try:
            self.ids_by_key.setdefault(key, set()).add(document["_id"])
        except TypeError:
            return False
        self.key_by_id[document["_id"]] = key
        return True

    def drop(self, document_id) -> None:
        key = self.key_by_id.pop(document_id, _MISSING)
        if key is not _MISSING:
            ids = self.ids_by_key[key]
            ids.discard(document_id)
            if not ids:
                del self.ids_by_key[key]


def _index_unique_keys() -> None:
    """mongomock checks a unique index by running its query engine over every stored document on
    each insert and update, so storing a chat message cost a pass over all messages, growing with
    the collection. Keep each unique index as a server does instead: a map from key values to the
    documents holding them, kept in step with every write of the collection, so a check looks up
    one key. The query engine runs only for a partial index's filter, on the documents with an
    equal key. Dotted keys, and indexes where a key holds an array or a sub-document, keep
    mongomock's own check."""
    import mongomock.collection
    import mongomock.store
    from mongomock.filtering import filter_applies

    collection_class = mongomock.collection.Collection
    store_class = mongomock.store.CollectionStore
    if getattr(collection_class, "_watchparty_unique_keys", False):
        return
    ensure_uniques = collection_class._ensure_uniques

    def maps(store) -> dict[str, _UniqueKeys | None]:
        """The store's built indexes; None marks an index mongomock checks itself."""
        built = store.__dict__.get("_watchparty_unique_maps")
        if built is None:
            built = store._watchparty_unique_maps = {}
        return built

    def build(store, index: dict) -> _UniqueKeys | None:
        fields = tuple(field for field, _ in index["key"])
        if any("." in field for field in fields):
            return None
        keys = _UniqueKeys(fields)
        with store._rwlock.reader():
            documents = list(store._documents.values())
        if not all(keys.put(document) for document in documents):
            return None
        return keys

    def _ensure_uniques(self, new_data):
        store = self._store
        store._remove_expired_documents()
        fallback = False
        with _unique_keys_lock:
            built = maps(store)
            for name, index in store.indexes.items():
                if not index.get("unique"):
                    continue
                if name not in built:
                    built[name] = build(store, index)
                keys = built[name]
                # new_data may have been changed in place (an update): index what it holds now.
                if keys is not None and not keys.put(new_data):
                    keys = built[name] = None
                if keys is None:
                    fallback = True
                    continue
                key = keys.key_by_id[new_data["_id"]]
                if index.get("sparse") and all(value is None for value in key):
                    continue
                holders = keys.ids_by_key[key]
                if len(holders) < 2:
                    continue
                partial = index.get("partialFilterExpression")
                if partial is None:
                    raise mongomock.DuplicateKeyError("E11000 Duplicate Key Error", 11000)
                with store._rwlock.reader():
                    covered = [store._documents[i] for i in holders if i in store._documents]
                if sum(1 for document in covered if filter_applies(partial, document)) > 1:
                    raise mongomock.DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        if fallback:
            return ensure_uniques(self, new_data)
        return None

    collection_class._ensure_uniques = _ensure_uniques

    # Every change to a collection's documents passes through these, so the maps follow it: an
    # insert, a rolled-back update (the old document put back), a delete, a TTL expiry, a drop.
    set_item, del_item = store_class.__setitem__, store_class.__delitem__
    create_index, drop_index, drop = store_class.create_index, store_class.drop_index, store_class.drop

    def __setitem__(self, key, value):
        set_item(self, key, value)
        with _unique_keys_lock:
            built = maps(self)
            for name, keys in list(built.items()):
                if keys is not None and not keys.put(value):
                    built[name] = None

    def __delitem__(self, key):
        del_item(self, key)
        with _unique_keys_lock:
            for keys in maps(self).values():
                if keys is not None:
                    keys.drop(key)

    def forget_maps(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            finally:
                with _unique_keys_lock:
                    maps(self).clear()  # rebuilt from the documents on the next check

        return wrapper

    store_class.__setitem__ = __setitem__
    store_class.__delitem__ = __delitem__
    store_class.create_index = forget_maps(create_index)
    store_class.drop_index = forget_maps(drop_index)
    store_class.drop = forget_maps(drop)
    collection_class._watchparty_unique_keys = True


def _find_by_id_directly() -> None:
    """A filter on one ``_id`` value matches at most the document stored under that key; mongomock
    ran its query engine over the whole collection to find it."""
    import mongomock.collection
    from mongomock.filtering import filter_applies

    collection_class = mongomock.collection.Collection
    if getattr(collection_class, "_watchparty_id_lookup", False):
        return
    iter_documents = collection_class._iter_documents

    def _iter_documents(self, filter):
        wanted = filter.get("_id", _MISSING) if isinstance(filter, dict) else _MISSING
        # Operators, arrays and regular expressions are not plain equality: mongomock decides.
        if wanted is _MISSING or isinstance(wanted, (dict, list, re.Pattern, Regex)):
            return iter_documents(self, filter)
        try:
            document = self._store[wanted]
        except (KeyError, TypeError):  # not stored, or not a possible key
            filter_applies(filter, {})  # still refuse a malformed filter, as mongomock does
            return iter(())
        return iter([document] if filter_applies(filter, document) else [])

    collection_class._iter_documents = _iter_documents
    collection_class._watchparty_id_lookup = True


def _stop_reading_at_the_limit() -> None:
    """mongomock's cursor copies every matching document (and makes its datetimes time-zone
    aware) before it applies ``limit``: a page of 50 from 10,000 messages copied 10,000. Iterating
    a limited cursor now copies only the documents it returns; everything else is unchanged."""
    import itertools

    import mongomock.collection
    from mongomock import helpers

    cursor_class = mongomock.collection.Cursor
    if getattr(cursor_class, "_watchparty_limited", False):
        return
    compute_results = cursor_class._compute_results

    def _compute_results(self, with_limit_and_skip=False):
        if not (with_limit_and_skip and self._limit):
            return compute_results(self, with_limit_and_skip)
        key = (self._factory, self._skip, self._limit)
        if getattr(self, "_watchparty_page_key", None) != key:
            documents = itertools.islice(self._factory(), self._skip + abs(self._limit))
            if self.collection.codec_options.tz_aware:
                documents = (helpers.make_datetime_timezone_aware_in_document(d) for d in documents)
            self._watchparty_page = list(documents)[self._skip :]
            self._watchparty_page_key = key
        return self._watchparty_page

    cursor_class._compute_results = _compute_results
    cursor_class._watchparty_limited = True


# A remote MongoDB (Atlas, another host) answers each operation after a network round trip of
# 1-5 ms, during which the calling thread waits and holds no GIL. The embedded database answers
# at once, which hides any code that makes many threads (or one thread) wait on the database.
# EMBEDDED_DB_LATENCY_MS puts that wait back: a time.sleep before every operation that would be a
# round trip to a server. Embedded database only; a real server has its own latency.
_ROUND_TRIP_METHODS = {
    "mongomock.collection.Collection": (
        *_MONGOMOCK_WRITES,
        "find_one",
        "aggregate",
        "count_documents",
        "estimated_document_count",
        "distinct",
        "drop",
        "drop_indexes",
        "list_indexes",
        "index_information",
        "rename",
    ),
    "mongomock.database.Database": (
        "command",
        "list_collection_names",
        "create_collection",
        "drop_collection",
        "rename_collection",
    ),
    "mongomock.mongo_client.MongoClient": ("drop_database", "list_database_names"),
}
# pymongo's find() returns a cursor without asking the server; the first fetch sends `find` and
# gets up to 101 documents, and one `getMore` fetches the rest of a page this app reads.
_FIRST_BATCH = 101
_in_round_trip = threading.local()


def _wait_like_a_remote_server() -> None:
    latency_ms = settings.EMBEDDED_DB_LATENCY_MS
    if latency_ms > 0:
        time.sleep(latency_ms / 1000)


def _simulate_round_trips() -> None:
    import importlib

    import mongomock.collection

    if getattr(mongomock.collection.Collection, "_watchparty_round_trips", False):
        return

    def one_round_trip(method):
        # mongomock's methods call one another (find_one -> find -> cursor): one call from the
        # app is one round trip however it is implemented.
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            if getattr(_in_round_trip, "active", False):
                return method(*args, **kwargs)
            _wait_like_a_remote_server()
            _in_round_trip.active = True
            try:
                return method(*args, **kwargs)
            finally:
                _in_round_trip.active = False

        return wrapper

    for path, names in _ROUND_TRIP_METHODS.items():
        module_name, _, class_name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        for name in names:
            setattr(cls, name, one_round_trip(getattr(cls, name)))

    cursor_class = mongomock.collection.Cursor
    next_document = cursor_class.__next__

    def __next__(self):
        if self._emitted in (0, _FIRST_BATCH) and not getattr(_in_round_trip, "active", False):
            _wait_like_a_remote_server()  # `find`, then the one `getMore`
        return next_document(self)

    cursor_class.__next__ = cursor_class.next = __next__
    mongomock.collection.Collection._watchparty_round_trips = True


def open_embedded(*, read_only: bool, lock_wait_seconds: float):
    """The embedded database's client, with the patches above applied: for writing (a server, or a
    command that changes data: holds the file's lock) or read-only (what the running server has
    committed, without its lock)."""
    import mongomock

    _serialize_mongomock_writes()
    _expire_like_mongodb()
    _index_unique_keys()
    _write_updates_through()
    _find_by_id_directly()
    _stop_reading_at_the_limit()
    _simulate_round_trips()  # last: the wait comes before the write lock, as on a network
    started = time.perf_counter()
    durable = embedded_store.DurableFile(
        settings.EMBEDDED_DB_PATH, read_only=read_only, lock_wait_seconds=lock_wait_seconds
    )
    store = durable.load()
    if read_only:
        logger.info("Embedded database %s opened read-only", durable.path)
    else:
        logger.warning(
            "MONGODB_URI is not set: parties and messages are kept in the embedded database %s "
            "(loaded in %.2f s; one process at a time). For several server processes, or to keep data "
            "on a database server, set MONGODB_URI (docs/embedded-database.md).",
            durable.path,
            time.perf_counter() - started,
        )
    client = mongomock.MongoClient(tz_aware=True, _store=store)
    client._watchparty_durable = durable
    return client
