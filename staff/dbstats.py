"""Collection sizes and index use, for ``manage.py db_stats``: plain values out, read-only.

Counts and index names come from every server. Sizes (``$collStats`` storageStats) and index use
(``$indexStats``) come only from a real server, and only when the user may run them; the embedded
mongomock implements neither, and then those values are None, with the reason in ``unavailable``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure

from core.db.client import get_db, using_embedded_database
from core.db.indexes import declared_indexes

EMBEDDED_REASON = "not reported by the embedded database (mongomock)"


@dataclass
class IndexStats:
    name: str
    keys: list[list[Any]]
    size_bytes: int | None = None
    ops: int | None = None  # times the index was used since `since` (counted per server process)
    since: datetime | None = None


@dataclass
class CollectionStats:
    name: str
    documents: int
    size_bytes: int | None = None  # uncompressed data
    storage_bytes: int | None = None  # on disk
    index_bytes: int | None = None
    indexes: list[IndexStats] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # what could not be read, and why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _direction(value: Any) -> Any:
    """1, -1, or a special index type such as "text" (a server may report 1.0 for 1)."""
    return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else value


def _storage_stats(db: Database, name: str) -> dict[str, Any]:
    """``$collStats`` storageStats, summed over shards (one document per shard)."""
    totals: dict[str, Any] = {"size": 0, "storageSize": 0, "totalIndexSize": 0, "indexSizes": {}}
    for doc in db[name].aggregate([{"$collStats": {"storageStats": {}}}]):
        stats = doc.get("storageStats") or {}
        for key in ("size", "storageSize", "totalIndexSize"):
            totals[key] += int(stats.get(key) or 0)
        for index_name, size in (stats.get("indexSizes") or {}).items():
            totals["indexSizes"][index_name] = totals["indexSizes"].get(index_name, 0) + int(size)
    return totals


def _index_usage(db: Database, name: str) -> dict[str, tuple[int, datetime | None]]:
    """``$indexStats``: uses per index, summed over the servers that report it."""
    usage: dict[str, tuple[int, datetime | None]] = {}
    for doc in db[name].aggregate([{"$indexStats": {}}]):
        accesses = doc.get("accesses") or {}
        ops, since = usage.get(doc["name"], (0, None))
        reported_since = accesses.get("since")
        if since is None or (reported_since is not None and reported_since < since):
            since = reported_since
        usage[doc["name"]] = (ops + int(accesses.get("ops") or 0), since)
    return usage


def _reason(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):
        return EMBEDDED_REASON
    return f"not permitted or not supported by the server ({exc})"


def collection_stats(db: Database | None = None) -> list[CollectionStats]:
    """One entry per collection, sorted by name: the collections the repositories declare (even
    before they exist) and any other non-system collection."""
    db = get_db() if db is None else db
    existing = {name for name in db.list_collection_names() if not name.startswith("system.")}
    names = existing | {spec.collection for spec in declared_indexes()}
    result: list[CollectionStats] = []
    for name in sorted(names):
        collection = db[name]
        entry = CollectionStats(name=name, documents=int(collection.estimated_document_count()))
        info = collection.index_information()
        entry.indexes = [
            IndexStats(name=index_name, keys=[[str(key_name), _direction(d)] for key_name, d in details["key"]])
            for index_name, details in sorted(info.items(), key=lambda item: (item[0] != "_id_", item[0]))
        ]
        by_name = {index.name: index for index in entry.indexes}
        if name not in existing:
            entry.unavailable.append("the collection does not exist yet")
            result.append(entry)
            continue
        try:
            storage = _storage_stats(db, name)
            entry.size_bytes = storage["size"]
            entry.storage_bytes = storage["storageSize"]
            entry.index_bytes = storage["totalIndexSize"]
            for index_name, size in storage["indexSizes"].items():
                if index_name in by_name:
                    by_name[index_name].size_bytes = size
        except (NotImplementedError, OperationFailure) as exc:
            entry.unavailable.append(f"sizes: {_reason(exc)}")
        try:
            for index_name, (ops, since) in _index_usage(db, name).items():
                if index_name in by_name:
                    by_name[index_name].ops = ops
                    by_name[index_name].since = since
        except (NotImplementedError, OperationFailure) as exc:
            entry.unavailable.append(f"index use: {_reason(exc)}")
        result.append(entry)
    return result


def database_summary() -> dict[str, Any]:
    """The database's name and whether it is the embedded one."""
    return {"database": get_db().name, "embedded": using_embedded_database()}
