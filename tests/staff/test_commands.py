import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chat import repository as chat_repository
from chat.repository import NewMessage
from core.db import indexes
from core.db.client import get_db, using_embedded_database
from core.durations import format_duration, parse_duration
from core.timeutil import utcnow
from parties import services
from parties.services import PartySettings

# --- ensure_indexes ---------------------------------------------------------------------------


def ttl_seconds(db):
    return db["chat_messages"].index_information()["archived_at_ttl"]["expireAfterSeconds"]


def test_ensure_indexes_follows_a_changed_chat_ttl(mongo_db, settings, capsys):
    """After CHAT_MESSAGE_TTL_DAYS changes, ensure_indexes brings the TTL index up to date
    (in place on a server, by a rebuild on the embedded database) and --check then passes."""
    assert ttl_seconds(mongo_db) == settings.CHAT_MESSAGE_TTL_DAYS * 86_400
    settings.CHAT_MESSAGE_TTL_DAYS = 7
    with pytest.raises(CommandError):
        call_command("ensure_indexes", "--check")
    assert "archived_at_ttl: options" in capsys.readouterr().out
    call_command("ensure_indexes")
    out = capsys.readouterr().out
    assert "chat_messages.archived_at_ttl" in out and "(1 change(s))" in out
    assert ("updated" in out) if not using_embedded_database() else ("rebuilt" in out)
    call_command("ensure_indexes", "--check")
    assert ttl_seconds(mongo_db) == 7 * 86_400


class CollModServer:
    """The database as a server that implements collMod: it applies the new TTL and records it."""

    def __init__(self, db):
        self._db = db
        self.commands = []
        self.dropped = []

    def command(self, command, *args, **kwargs):
        self.commands.append(command)
        assert isinstance(command, dict) and next(iter(command)) == "collMod" and not args
        index = command["index"]
        spec = next(s for s in indexes.declared_indexes() if s.name == index["name"])
        self._db[command["collMod"]].drop_index(spec.name)
        options = {**spec.options(), "expireAfterSeconds": index["expireAfterSeconds"]}
        self._db[command["collMod"]].create_index(list(spec.keys), name=spec.name, **options)
        return {"ok": 1}

    def __getitem__(self, name):
        collection = self._db[name]
        server = self

        class Collection:
            def __getattr__(self, attr):
                if attr == "drop_index":
                    return lambda name: server.dropped.append(name) or collection.drop_index(name)
                return getattr(collection, attr)

        return Collection()


def test_ensure_indexes_changes_a_ttl_in_place_where_collmod_exists(mongo_db, settings):
    """On a server with collMod the TTL is changed in place: one collMod, no index dropped."""
    before = ttl_seconds(mongo_db)
    settings.CHAT_MESSAGE_TTL_DAYS = 3
    server = CollModServer(mongo_db)
    actions = indexes.ensure_indexes(server)
    assert actions == [f"updated chat_messages.archived_at_ttl expireAfterSeconds {before} -> {3 * 86_400}"]
    assert len(server.commands) == 1 and server.dropped == []
    assert indexes.index_differences(mongo_db) == []


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("90m", timedelta(minutes=90)),
        ("6h", timedelta(hours=6)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        (" 1d12h ", timedelta(days=1, hours=12)),
        ("7D", timedelta(days=7)),
    ],
)
def test_durations_operators_type(text, expected):
    """The shared duration parser reads 90m, 6h, 7d, 2w (and combinations) and writes them back."""
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "0d", "0h0m", "-1d", "1.5h", "7 d", "99999999999w", "1d-2h"])
def test_durations_refuse_anything_else(text):
    """A missing or unknown unit, zero, a negative or fractional number, or an absurd length is refused."""
    with pytest.raises(ValueError):
        parse_duration(text)


# --- db_stats ---------------------------------------------------------------------------------


def seed(user):
    party = services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    for i in range(3):
        chat_repository.insert_message(
            NewMessage(
                party_id=party.id,
                user_id="1",
                user_name="A",
                message=f"m{i}",
                message_type="text",
                client_id=None,
                timestamp=utcnow(),
            )
        )


def test_db_stats_prints_counts_and_indexes(user, capsys):
    """db_stats prints each collection's document count and its indexes; the embedded database
    says that sizes and index use are unavailable."""
    seed(user)
    call_command("db_stats")
    out = capsys.readouterr().out
    assert "parties: 1 document(s)" in out
    assert "chat_messages: 3 document(s)" in out
    assert "archived_timestamp_id" in out and "room_code_active_unique" in out
    if using_embedded_database():
        assert "unavailable on the embedded database" in out
    else:
        assert "use(s) since" in out


def test_db_stats_json(user, capsys):
    """db_stats --json prints one JSON document with the same facts, for scripts."""
    seed(user)
    call_command("db_stats", "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["database"] == get_db().name
    by_name = {c["name"]: c for c in document["collections"]}
    assert by_name["parties"]["documents"] == 1 and by_name["chat_messages"]["documents"] == 3
    names = [index["name"] for index in by_name["chat_messages"]["indexes"]]
    assert names[0] == "_id_" and "archived_at_ttl" in names
    if using_embedded_database():
        assert by_name["parties"]["size_bytes"] is None and by_name["parties"]["unavailable"]
    else:
        assert by_name["parties"]["size_bytes"] is not None


def test_db_stats_help():
    """db_stats --help documents --json."""
    from staff.management.commands.db_stats import Command

    assert "--json" in Command().create_parser("manage.py", "db_stats").format_help()


def test_ensure_indexes_migrates_the_old_timestamp_ttl(mongo_db, capsys):
    """A deployment that still has the old TTL on `timestamp` (which deleted unarchived messages):
    --check names it, ensure_indexes drops it and keeps the archived_at TTL, and --check passes."""
    messages = mongo_db["chat_messages"]
    messages.drop_index("archived_at_ttl")
    messages.create_index([("timestamp", 1)], name="timestamp_ttl", expireAfterSeconds=30 * 86_400)
    with pytest.raises(CommandError):
        call_command("ensure_indexes", "--check")
    out = capsys.readouterr().out
    assert "chat_messages.timestamp_ttl: retired, to be dropped" in out
    assert "chat_messages.archived_at_ttl: missing" in out
    call_command("ensure_indexes")
    out = capsys.readouterr().out
    assert "dropped chat_messages.timestamp_ttl" in out and "created chat_messages.archived_at_ttl" in out
    info = messages.index_information()
    assert "timestamp_ttl" not in info
    assert info["archived_at_ttl"]["partialFilterExpression"] == {"archived_at": {"$type": "date"}}
    call_command("ensure_indexes", "--check")


def test_ensure_indexes_leaves_other_undeclared_indexes_alone(mongo_db, capsys):
    """Only retired indexes are dropped: an operator's own index stays (and --check reports it)."""
    mongo_db["chat_messages"].create_index([("user_name", 1)], name="operator_made")
    call_command("ensure_indexes")
    assert "operator_made" in mongo_db["chat_messages"].index_information()
