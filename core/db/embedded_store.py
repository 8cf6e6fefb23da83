"""The embedded database's durable layer: mongomock's stores, written through to one SQLite file.

mongomock stays the query engine (the same repository code as on MongoDB); these stores are the
ones it keeps its documents and indexes in. Every change to them (an insert, an update applied
in place, a delete, a TTL expiry, an index created or dropped, a collection or database dropped)
is recorded, and the whole write operation is committed to SQLite in one transaction before the
call returns, while the write lock that already serializes the embedded database's writes is
held. At start the file is read back into the stores, indexes included, before any query runs.

SQLite runs in WAL mode with synchronous=NORMAL: a committed write survives the process being
killed (kill -9, a crash), not necessarily a power loss or an OS crash (docs/embedded-database.md).

One process writes a file: the writer holds an exclusive lock (flock on ``<file>.lock``, which
the kernel releases when the process dies, however it dies). A second writer waits a few seconds
for it (uvicorn --reload starts the new worker as the old one exits) and then gives up with
EmbeddedDatabaseBusy. A read-only opener (a read-only manage.py command) takes no lock: it
reads what the writer committed, and nothing it does reaches the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import bson
import mongomock.store
from bson.codec_options import CodecOptions
from mongomock import helpers
from pymongo.errors import PyMongoError

# mongomock keeps datetimes as naive UTC (and makes them aware as it returns them): decode to
# the same form, so a document read back from the file is the one that was stored.
_CODEC = CodecOptions(tz_aware=False)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    db TEXT NOT NULL, coll TEXT NOT NULL, id BLOB NOT NULL, doc BLOB NOT NULL, UNIQUE (db, coll, id)
);
CREATE TABLE IF NOT EXISTS indexes (
    db TEXT NOT NULL, coll TEXT NOT NULL, name TEXT NOT NULL, spec BLOB NOT NULL, PRIMARY KEY (db, coll, name)
);
"""

# The embedded database's writes, one at a time: mongomock applies an update as "find, then
# write" in Python, and each write operation is committed to the file as a whole inside it.
write_lock = threading.RLock()
_depth = 0  # nesting of write_operation() in the thread holding write_lock
_pending: list[tuple] = []  # changes of the current write operation, in order


class EmbeddedDatabaseBusy(RuntimeError):
    """Another process holds the embedded database file for writing."""


class EmbeddedWriteFailed(PyMongoError):
    """A change could not be committed to the file (disk full, file removed...)."""


@contextlib.contextmanager
def write_operation():
    """One write operation: serialized with every other, and committed before it returns."""
    global _depth
    with write_lock:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0 and _pending:
                changes = list(_pending)
                _pending.clear()
                _commit(changes)


def _record(change: tuple) -> None:
    if change[0].read_only:
        return
    with write_operation():  # a change outside any operation is committed at once
        _pending.append(change)


def _commit(changes: list[tuple]) -> None:
    by_file: dict[DurableFile, list[tuple]] = {}
    for change in changes:
        by_file.setdefault(change[0], []).append(change[1:])
    for durable, file_changes in by_file.items():
        durable.commit(file_changes)


def _id_key(document_id: Any) -> bytes:
    return bson.encode({"_id": document_id})


def _stored_key(document_id: Any) -> Any:
    """The key mongomock stores a document under (a dict _id is kept as a hashable dict)."""
    return helpers.hashdict(document_id) if isinstance(document_id, dict) else document_id


class DurableCollectionStore(mongomock.store.CollectionStore):
    def __init__(self, name: str, db_name: str, durable: DurableFile) -> None:
        self._durable = durable
        self._db_name = db_name
        super().__init__(name)

    # mongomock replaces the whole index map in drop() and drop_indexes().
    @property
    def indexes(self) -> dict:
        return self._indexes

    @indexes.setter
    def indexes(self, value: dict) -> None:
        self._indexes = value
        if "name" in self.__dict__:
            _record((self._durable, "indexes", self))

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        _record((self._durable, "put", self, key))

    def __delitem__(self, key):
        super().__delitem__(key)
        _record((self._durable, "put", self, key))  # absent: deleted from the file

    def document_changed(self, key) -> None:
        """A stored document was changed in place (an update): write it through."""
        _record((self._durable, "put", self, key))

    def create_index(self, index_name, index_dict):
        super().create_index(index_name, index_dict)
        _record((self._durable, "indexes", self))

    def drop_index(self, index_name):
        super().drop_index(index_name)
        _record((self._durable, "indexes", self))

    def drop(self):
        super().drop()
        _record((self._durable, "drop", self._db_name, self.name))


class DurableDatabaseStore(mongomock.store.DatabaseStore):
    def __init__(self, name: str, durable: DurableFile) -> None:
        super().__init__()
        self._name = name
        self._durable = durable

    def __getitem__(self, col_name):
        try:
            return self._collections[col_name]
        except KeyError:
            col = self._collections[col_name] = DurableCollectionStore(col_name, self._name, self._durable)
            return col

    def rename(self, name, new_name):
        col = self._collections.pop(name, None) or DurableCollectionStore(new_name, self._name, self._durable)
        col.name = new_name
        self._collections[new_name] = col
        _record((self._durable, "rename", self._name, name, new_name))


class DurableServerStore(mongomock.store.ServerStore):
    def __init__(self, durable: DurableFile) -> None:
        super().__init__()
        self._durable = durable

    def __getitem__(self, db_name):
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = DurableDatabaseStore(db_name, self._durable)
            return db


def _lock_holder(lock_path: Path) -> str:
    try:
        pid = lock_path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


class DurableFile:
    """One SQLite file holding every embedded database (a row per document, keyed by database
    and collection name), opened for writing (holding the lock) or read-only."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, lock_wait_seconds: float = 0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock_file = None
        if read_only:
            if not self.path.exists():
                self._conn = None  # nothing stored yet: an empty database
            else:
                self._conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock(lock_wait_seconds)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints only: a commit is in the file (the OS's
            # cache of it) when it returns, which a killed process cannot take back.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        self.store = DurableServerStore(self)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _take_lock(self, wait_seconds: float) -> None:
        lock_file = open(self.lock_path, "a+")  # noqa: SIM115 - held open for the process's life
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _lock_holder(self.lock_path)
                    lock_file.close()
                    raise EmbeddedDatabaseBusy(
                        f"The embedded database {self.path} is in use by {holder} (a running server, "
                        "./dev serve). Only one process can write it: stop that one first, or set "
                        "MONGODB_URI to use MongoDB, which several processes can share."
                    ) from None
                time.sleep(0.1)
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        self._lock_file = lock_file

    def load(self) -> DurableServerStore:
        """Read the file into the stores: indexes first, then documents in the order stored."""
        if self._conn is None:
            return self.store
        with write_lock:
            for db_name, coll, name, spec in self._conn.execute("SELECT db, coll, name, spec FROM indexes"):
                index = bson.decode(spec, codec_options=_CODEC)
                index["key"] = [tuple(part) for part in index["key"]]
                store = self.store[db_name][coll]
                store._indexes[name] = index
                if index.get("expireAfterSeconds") is not None:
                    store._ttl_indexes[name] = index
            rows = self._conn.execute("SELECT db, coll, doc FROM documents ORDER BY rowid")
            for db_name, coll, doc in rows:
                document = bson.decode(doc, codec_options=_CODEC)
                self.store[db_name][coll]._documents[_stored_key(document["_id"])] = document
        return self.store

    def commit(self, changes: list[tuple]) -> None:
        try:
            if len(changes) == 1 and changes[0][0] == "put":
                # One statement is a transaction of its own: no BEGIN and COMMIT around it, each
                # of which is a call into SQLite that lets go of the GIL (most writes are one put).
                self._apply_put(*changes[0][1:])
                return
            self._conn.execute("BEGIN")
            try:
                for change in changes:
                    getattr(self, f"_apply_{change[0]}")(*change[1:])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise EmbeddedWriteFailed(f"The embedded database could not write {self.path}: {exc}") from exc

    def _apply_put(self, store: DurableCollectionStore, key) -> None:
        document = store._documents.get(key)
        if document is None:
            self._conn.execute(
                "DELETE FROM documents WHERE db = ? AND coll = ? AND id = ?", (store._db_name, store.name, _id_key(key))
            )
            return
        self._conn.execute(
            "INSERT INTO documents (db, coll, id, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (db, coll, id) DO UPDATE SET doc = excluded.doc",
            (store._db_name, store.name, _id_key(key), bson.encode(document)),
        )

    def _apply_indexes(self, store: DurableCollectionStore) -> None:
        self._conn.execute("DELETE FROM indexes WHERE db = ? AND coll = ?", (store._db_name, store.name))
        self._conn.executemany(
            "INSERT INTO indexes (db, coll, name, spec) VALUES (?, ?, ?, ?)",
            [(store._db_name, store.name, name, bson.encode(index)) for name, index in store.indexes.items()],
        )

    def _apply_drop(self, db_name: str, coll: str) -> None:
        for table in ("documents", "indexes"):
            self._conn.execute(f"DELETE FROM {table} WHERE db = ? AND coll = ?", (db_name, coll))  # noqa: S608

    def _apply_rename(self, db_name: str, old: str, new: str) -> None:
        for table in ("documents", "indexes"):
            self._conn.execute(f"DELETE FROM {table} WHERE db = ? AND coll = ?", (db_name, new))  # noqa: S608
            self._conn.execute(
                f"UPDATE {table} SET coll = ? WHERE db = ? AND coll = ?",
                (new, db_name, old),  # noqa: S608
            )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None
