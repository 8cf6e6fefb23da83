"""The ``chat_messages`` collection (built out in the real-time chat work)."""

from watchparty.indexes import IndexSpec

COLLECTION = "chat_messages"

INDEXES: list[IndexSpec] = []
