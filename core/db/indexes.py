"""Index declarations, and the code that applies and checks them.

Each repository module declares the indexes its queries need in a module-level ``INDEXES`` list,
right beside those queries, and the indexes it no longer wants in ``RETIRED_INDEXES``.
``manage.py ensure_indexes`` creates the first and drops the second; nothing is created on import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pymongo.database import Database
from pymongo.errors import OperationFailure

REPOSITORY_MODULES = ("parties.repository", "chat.repository")


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    partial_filter: dict[str, Any] | None = None
    # A callable so that a TTL read from settings is evaluated when indexes are applied, not on import.
    expire_after_seconds: Callable[[], int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The options as MongoDB reports them in index_information()."""
        opts: dict[str, Any] = {}
        if self.unique:
            opts["unique"] = True
        if self.partial_filter is not None:
            opts["partialFilterExpression"] = self.partial_filter
        if self.expire_after_seconds is not None:
            opts["expireAfterSeconds"] = int(self.expire_after_seconds())
        return opts


@dataclass(frozen=True)
class RetiredIndex:
    """An index an earlier release created and this one must not keep (say, a TTL that now means
    something else): ``ensure_indexes`` drops it. Other undeclared indexes are left alone."""

    collection: str
    name: str
    why: str = ""


def declared_indexes() -> list[IndexSpec]:
    specs: list[IndexSpec] = []
    for module_name in REPOSITORY_MODULES:
        specs.extend(getattr(importlib.import_module(module_name), "INDEXES", []))
    return specs


def retired_indexes() -> list[RetiredIndex]:
    retired: list[RetiredIndex] = []
    for module_name in REPOSITORY_MODULES:
        retired.extend(getattr(importlib.import_module(module_name), "RETIRED_INDEXES", []))
    return retired


def _normalize_keys(keys) -> tuple[tuple[str, int], ...]:
    return tuple((str(name), int(direction)) for name, direction in keys)


def _normalize_filter(expression: dict[str, Any]) -> dict[str, Any]:
    # A server may report {"f": {"$eq": v}} for the declared {"f": v}; they are the same filter.
    return {
        name: value["$eq"] if isinstance(value, dict) and set(value) == {"$eq"} else value
        for name, value in expression.items()
    }


def _existing_options(info: dict[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if info.get("unique"):
        opts["unique"] = True
    if info.get("partialFilterExpression") is not None:
        opts["partialFilterExpression"] = _normalize_filter(dict(info["partialFilterExpression"]))
    if info.get("expireAfterSeconds") is not None:
        opts["expireAfterSeconds"] = int(info["expireAfterSeconds"])
    return opts


def index_differences(
    db: Database, specs: list[IndexSpec] | None = None, retired: list[RetiredIndex] | None = None
) -> list[str]:
    """Human-readable differences between the database's indexes and the declared ones."""
    specs = declared_indexes() if specs is None else specs
    retired = retired_indexes() if retired is None else retired
    differences: list[str] = []
    retired_names = {(index.collection, index.name) for index in retired}
    for index in retired:
        if index.name in db[index.collection].index_information():
            differences.append(f"{index.collection}.{index.name}: retired, to be dropped ({index.why})")
    by_collection: dict[str, list[IndexSpec]] = {}
    for spec in specs:
        by_collection.setdefault(spec.collection, []).append(spec)
    for collection_name, collection_specs in sorted(by_collection.items()):
        existing = db[collection_name].index_information()
        declared_names = set()
        for spec in collection_specs:
            declared_names.add(spec.name)
            info = existing.get(spec.name)
            if info is None:
                differences.append(f"{collection_name}.{spec.name}: missing")
                continue
            if _normalize_keys(info["key"]) != spec.keys:
                differences.append(
                    f"{collection_name}.{spec.name}: keys are {list(_normalize_keys(info['key']))}, "
                    f"declared {list(spec.keys)}"
                )
            if _existing_options(info) != spec.options():
                differences.append(
                    f"{collection_name}.{spec.name}: options are {_existing_options(info)}, declared {spec.options()}"
                )
        for name in sorted(set(existing) - declared_names - {"_id_"}):
            if (collection_name, name) in retired_names:
                continue
            differences.append(f"{collection_name}.{name}: not declared")
    return differences


def _create(db: Database, spec: IndexSpec) -> None:
    kwargs: dict[str, Any] = {"name": spec.name}
    kwargs.update(spec.options())
    kwargs.update(spec.extra)
    db[spec.collection].create_index(list(spec.keys), **kwargs)


def ensure_indexes(
    db: Database, specs: list[IndexSpec] | None = None, retired: list[RetiredIndex] | None = None
) -> list[str]:
    """Drop retired indexes, create missing ones and bring changed ones up to date. Returns what
    was done.

    Idempotent: a second run does nothing. Indexes that are neither declared nor retired are left
    alone (``--check`` reports them) so that an operator's hand-made index is never dropped by a
    deploy.
    """
    specs = declared_indexes() if specs is None else specs
    retired = retired_indexes() if retired is None else retired
    actions: list[str] = []
    for index in retired:
        if index.name in db[index.collection].index_information():
            db[index.collection].drop_index(index.name)
            actions.append(f"dropped {index.collection}.{index.name} (retired: {index.why})")
    for spec in specs:
        collection = db[spec.collection]
        info = collection.index_information().get(spec.name)
        if info is None:
            _create(db, spec)
            actions.append(f"created {spec.collection}.{spec.name}")
            continue
        same_keys = _normalize_keys(info["key"]) == spec.keys
        existing, declared = _existing_options(info), spec.options()
        if same_keys and existing == declared:
            continue
        only_ttl_differs = (
            same_keys
            and {k: v for k, v in existing.items() if k != "expireAfterSeconds"}
            == {k: v for k, v in declared.items() if k != "expireAfterSeconds"}
            and "expireAfterSeconds" in declared
        )
        if only_ttl_differs:
            try:
                # collMod changes a TTL in place, without rebuilding the index.
                # The command as one document: mongomock's command() takes no positional value,
                # and answers this form with NotImplementedError (caught below) instead of TypeError.
                db.command(
                    {
                        "collMod": spec.collection,
                        "index": {"name": spec.name, "expireAfterSeconds": declared["expireAfterSeconds"]},
                    }
                )
                actions.append(
                    f"updated {spec.collection}.{spec.name} expireAfterSeconds "
                    f"{existing.get('expireAfterSeconds')} -> {declared['expireAfterSeconds']}"
                )
                continue
            except (OperationFailure, NotImplementedError):
                pass  # the embedded database has no collMod: rebuild below
        collection.drop_index(spec.name)
        _create(db, spec)
        actions.append(f"rebuilt {spec.collection}.{spec.name}")
    return actions


# --- Query coverage -------------------------------------------------------------------------

_RANGE_OPERATORS = {"$lt", "$lte", "$gt", "$gte"}
_EQUALITY_OPERATORS = {"$eq", "$in"}


def _classify_filter(filter_: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """Split a filter into (equality fields, range fields, other fields)."""
    equality: set[str] = set()
    ranges: set[str] = set()
    other: set[str] = set()
    for name, condition in filter_.items():
        if name == "$and":
            for part in condition:
                e, r, o = _classify_filter(part)
                equality |= e
                ranges |= r
                other |= o
            continue
        if name.startswith("$"):
            other.add(name)
            continue
        if isinstance(condition, dict) and any(key.startswith("$") for key in condition):
            operators = set(condition)
            if operators <= _EQUALITY_OPERATORS:
                equality.add(name)
            elif operators & _RANGE_OPERATORS:
                ranges.add(name)
            else:
                other.add(name)
        else:
            equality.add(name)
    return equality, ranges, other


def query_is_served(
    filter_: dict[str, Any], sort: list[tuple[str, int]] | None, indexes: list[tuple[tuple[str, int], ...]]
) -> bool:
    """True when some index serves the query: its key starts with the filter's equality fields
    (any order), then the sort fields (in order, all in the index's direction or all reversed),
    then the range fields. A query on ``_id`` equality is always served by the ``_id`` index.
    Each branch of a top-level ``$or`` must be served on its own.
    """
    if "$or" in filter_:
        rest = {k: v for k, v in filter_.items() if k != "$or"}
        return all(query_is_served({**rest, **branch}, sort, indexes) for branch in filter_["$or"])
    equality, ranges, _other = _classify_filter(filter_)
    if "_id" in equality:
        return True
    # Sorting on a field the filter pins to one value needs nothing from the index.
    sort = [(name, direction) for name, direction in (sort or []) if name not in equality]
    for keys in indexes:
        names = [name for name, _ in keys]
        position = len(equality)
        if set(names[:position]) != equality:
            continue
        if sort:
            window = list(keys[position : position + len(sort)])
            if [name for name, _ in window] != [name for name, _ in sort]:
                continue
            same = all(d == wd for (_, d), (_, wd) in zip(sort, window))
            reversed_ = all(d == -wd for (_, d), (_, wd) in zip(sort, window))
            if not (same or reversed_):
                continue
            position += len(sort)
            # A range on the first sort field is served by the same part of the index.
            remaining_ranges = ranges - {sort[0][0]}
        else:
            remaining_ranges = ranges
        if remaining_ranges and set(names[position : position + len(remaining_ranges)]) != remaining_ranges:
            continue
        if not equality and not sort and not ranges:
            continue  # an unfiltered, unsorted scan is a collection scan whatever the indexes
        return True
    return False


# --- Listing ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value from index_information() as plain JSON-friendly Python (SON -> dict, 1.0 -> 1)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def describe_indexes(db: Database) -> dict[str, list[dict[str, Any]]]:
    """The indexes of each collection: the declared collections and any other (non-system) one.

    Per collection, sorted by name with ``_id_`` first, a list of ``{"name", "keys": [[field,
    direction], ...], "unique": bool, "partialFilterExpression": dict or None, "expireAfterSeconds":
    int or None}``. A declared collection that does not exist yet has an empty list.
    """
    names = {spec.collection for spec in declared_indexes()}
    names |= {name for name in db.list_collection_names() if not name.startswith("system.")}
    result: dict[str, list[dict[str, Any]]] = {}
    for collection_name in sorted(names):
        info = db[collection_name].index_information()
        entries = [
            {
                "name": name,
                "keys": [[str(field), _plain(direction)] for field, direction in details.get("key", [])],
                "unique": bool(details.get("unique", False)),
                "partialFilterExpression": _plain(details["partialFilterExpression"])
                if details.get("partialFilterExpression") is not None
                else None,
                "expireAfterSeconds": int(details["expireAfterSeconds"])
                if details.get("expireAfterSeconds") is not None
                else None,
            }
            for name, details in info.items()
        ]
        entries.sort(key=lambda entry: (entry["name"] != "_id_", entry["name"]))
        result[collection_name] = entries
    return result
