"""Records every query the repositories send, so tests can check each against the declared indexes.

Works the same on mongomock and on a real server (it wraps the pymongo collection API, which both
implement). On a real server the recorded queries can also be explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedQuery:
    collection: str
    operation: str
    filter: dict[str, Any]
    sort: list[tuple[str, int]] = field(default_factory=list)


def _sort_list(sort) -> list[tuple[str, int]]:
    if not sort:
        return []
    if isinstance(sort, str):
        return [(sort, 1)]
    return [(name, int(direction)) for name, direction in sort]


class RecordingCursor:
    def __init__(self, cursor, record: RecordedQuery):
        self._cursor = cursor
        self._record = record

    def sort(self, key_or_list, direction=None):
        self._record.sort = _sort_list([(key_or_list, direction)] if direction is not None else key_or_list)
        self._cursor = (
            self._cursor.sort(key_or_list, direction) if direction is not None else self._cursor.sort(key_or_list)
        )
        return self

    def __getattr__(self, name):
        attr = getattr(self._cursor, name)
        if callable(attr) and name in {"limit", "skip", "batch_size", "hint", "max_time_ms"}:

            def chained(*args, **kwargs):
                self._cursor = attr(*args, **kwargs)
                return self

            return chained
        return attr

    def __iter__(self):
        return iter(self._cursor)


_FILTER_FIRST = {
    "find_one",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "count_documents",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "replace_one",
}


class RecordingCollection:
    def __init__(self, collection, log: list[RecordedQuery]):
        self._collection = collection
        self._log = log

    def find(self, filter=None, *args, **kwargs):
        record = RecordedQuery(self._collection.name, "find", dict(filter or {}), _sort_list(kwargs.get("sort")))
        self._log.append(record)
        return RecordingCursor(self._collection.find(filter, *args, **kwargs), record)

    def aggregate(self, pipeline, *args, **kwargs):
        match = next((stage["$match"] for stage in pipeline if "$match" in stage), {})
        sort = next((list(stage["$sort"].items()) for stage in pipeline if "$sort" in stage), [])
        self._log.append(RecordedQuery(self._collection.name, "aggregate", dict(match), _sort_list(sort)))
        return self._collection.aggregate(pipeline, *args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._collection, name)
        if name in _FILTER_FIRST:

            def recorded(filter, *args, **kwargs):
                self._log.append(
                    RecordedQuery(self._collection.name, name, dict(filter), _sort_list(kwargs.get("sort")))
                )
                return attr(filter, *args, **kwargs)

            return recorded
        return attr


class RecordingDatabase:
    def __init__(self, db, log: list[RecordedQuery]):
        self._db = db
        self._log = log

    def __getitem__(self, name):
        return RecordingCollection(self._db[name], self._log)

    def __getattr__(self, name):
        return getattr(self._db, name)


def explain_problems(db, query: RecordedQuery) -> list[str]:
    """On a real server: the stages of the winning plan that mean a collection scan or an
    in-memory sort."""
    command: dict[str, Any] = {"find": query.collection, "filter": query.filter}
    if query.sort:
        command["sort"] = dict(query.sort)
    plan = db.command("explain", command, verbosity="queryPlanner")["queryPlanner"]["winningPlan"]
    problems: list[str] = []

    def walk(stage):
        name = stage.get("stage")
        if name in {"COLLSCAN", "SORT"}:
            problems.append(name)
        for child_key in ("inputStage", "queryPlan"):
            if child_key in stage:
                walk(stage[child_key])
        for child in stage.get("inputStages", []):
            walk(child)

    walk(plan.get("queryPlan", plan))
    return problems
