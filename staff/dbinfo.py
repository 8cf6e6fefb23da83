"""What the admin's database page and /health/database show: each collection's document count
and indexes, and how the indexes differ from the declared ones. Plain data only; read-only."""

from __future__ import annotations

from typing import Any

from chat import repository as chat_repository
from core.db.client import get_db, using_embedded_database
from core.db.indexes import declared_indexes, describe_indexes, index_differences
from parties import repository as party_repository


def database_health() -> dict[str, Any]:
    """What /health/database reports: ``{"active_parties", "total_messages", "indexes"}``
    (each collection's indexes as ``describe_indexes`` gives them). Raises PyMongoError when the
    database does not answer."""
    return {
        "active_parties": party_repository.count_active(),
        "total_messages": chat_repository.count_all(),
        "indexes": describe_indexes(get_db()),
    }


def database_overview() -> dict[str, Any]:
    """``{"database", "embedded", "collections": [{"name", "documents", "indexes": [...]}],
    "differences"}``. ``documents`` comes from the collection's metadata (no scan). Each index is
    as ``describe_indexes`` gives it, plus ``declared`` (a repository declares it; ``_id_`` counts
    as declared). ``differences`` is what ``manage.py ensure_indexes --check`` would report."""
    db = get_db()
    declared = {(spec.collection, spec.name) for spec in declared_indexes()}
    collections = []
    for name, indexes in describe_indexes(db).items():
        collections.append(
            {
                "name": name,
                "documents": db[name].estimated_document_count(),
                "indexes": [
                    {**index, "declared": index["name"] == "_id_" or (name, index["name"]) in declared}
                    for index in indexes
                ],
            }
        )
    return {
        "database": db.name,
        "embedded": using_embedded_database(),
        "collections": collections,
        "differences": index_differences(db),
    }
