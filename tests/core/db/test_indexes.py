import inspect
import os
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import chat.repository
import parties.repository
from chat import services as chat_services
from core.db.client import get_client, get_db
from core.db.indexes import declared_indexes, query_is_served
from core.timeutil import utcnow
from parties import services
from parties.services import PartySettings
from tests.querycheck import RecordingDatabase, explain_problems

REPOSITORIES = [parties.repository, chat.repository]


@pytest.fixture
def bare_db(settings):
    """A database with no indexes yet (the autouse fixture's one has them all)."""
    settings.MONGODB_DB = settings.MONGODB_DB + "_bare"
    db = get_db()
    for name in db.list_collection_names():
        db[name].drop_indexes()
    yield db
    get_client().drop_database(settings.MONGODB_DB)


def test_ensure_then_check_passes(bare_db, capsys):
    """ensure_indexes creates every declared index, and --check then exits 0."""
    call_command("ensure_indexes")
    call_command("ensure_indexes", "--check")
    assert "All" in capsys.readouterr().out
    names = set(bare_db["parties"].index_information())
    assert {spec.name for spec in declared_indexes() if spec.collection == "parties"} <= names


def test_ensure_is_idempotent(bare_db, capsys):
    """A second ensure_indexes run changes nothing."""
    call_command("ensure_indexes")
    capsys.readouterr()
    call_command("ensure_indexes")
    assert "(0 change(s))" in capsys.readouterr().out


def test_check_names_a_dropped_index(bare_db, capsys):
    """After one index is dropped, --check exits non-zero and names it."""
    call_command("ensure_indexes")
    bare_db["parties"].drop_index("room_code_active_unique")
    with pytest.raises(CommandError):
        call_command("ensure_indexes", "--check")
    assert "parties.room_code_active_unique: missing" in capsys.readouterr().out


def test_check_on_empty_database_fails(bare_db, capsys):
    """--check on a database without indexes fails and lists what is missing."""
    with pytest.raises(CommandError):
        call_command("ensure_indexes", "--check")
    assert "missing" in capsys.readouterr().out


def test_check_reports_changed_options(bare_db, capsys):
    """An index with the declared name but other options is reported."""
    bare_db["parties"].create_index([("room_code", 1)], name="room_code_active_unique")
    with pytest.raises(CommandError):
        call_command("ensure_indexes", "--check")
    assert "room_code_active_unique: options" in capsys.readouterr().out


def test_command_help_mentions_check():
    """ensure_indexes --help documents --check."""
    from staff.management.commands.ensure_indexes import Command

    parser = Command().create_parser("manage.py", "ensure_indexes")
    assert "--check" in parser.format_help()


@pytest.mark.parametrize(
    "filter_,sort,served",
    [
        ({"room_code": "A", "ended_at": None}, None, True),
        ({"ended_at": None, "host_id": "1"}, [("created_at", -1)], True),
        ({"host_id": "1"}, [("created_at", -1)], True),
        ({"content_title": "x"}, [("created_at", -1)], False),
        ({"title": "x"}, None, False),
        ({}, None, False),
        ({"_id": 1, "whatever": {"$ne": 2}}, None, True),
        ({"$or": [{"host_id": "1"}, {"participants.user_id": "1"}]}, [("created_at", -1)], True),
        ({"$or": [{"host_id": "1"}, {"title": "x"}]}, None, False),
    ],
)
def test_query_shape_checker(filter_, sort, served):
    """The checker accepts queries an index serves and refuses ones it does not."""
    keys = [spec.keys for spec in declared_indexes() if spec.collection == "parties"]
    assert query_is_served(filter_, sort, keys) is served


def _exercise_parties(make_user):
    host, guest = make_user(), make_user()
    party = services.party_create(user=host, data=PartySettings(content_id="film", content_type="vod"))
    services.party_join(room_code=party.room_code, user=guest)
    services.party_get_for_member(party_id=party.id, user=guest)
    for include_ended in (True, False):
        services.party_list_for_user(user=guest, include_ended=include_ended, limit=10)
    parties.repository.list_active_for_content("film", limit=10)
    parties.repository.count_active()
    # The stale-party sweep (index ended_activity_id): both pages, and the conditional end.
    idle = parties.repository.list_idle_active(utcnow() + timedelta(seconds=1), limit=1)
    parties.repository.list_idle_active(
        utcnow() + timedelta(seconds=1), after=(idle[0].last_activity_at, idle[0].id), limit=1
    )
    parties.repository.end_idle_party(party.id, idle_before=utcnow() - timedelta(hours=1), ended_at=utcnow())
    # Staff moderation (indexes created_ended, ended_created, room_code_*, content_created, host_*):
    # every status, without terms and with a room code, a host (id and name) and a content id.
    for text in ("", party.room_code.lower(), host.pk, host.username, "film", "The Film"):
        for status in parties.repository.PARTY_STATUSES:
            results = services.party_search(text=str(text), status=status)
            results.count()
            results[0:2]
    # The title-words backfill (title_words_created, under null): both pages, and the bulk update.
    get_db()["parties"].update_one({"room_code": party.room_code}, {"$unset": {"title_words": ""}})
    assert services.party_title_words_backfill(batch_size=1) == 1
    chat_services.playback_update(party_id=party.id, user=host, state="playing", position=3.0)
    _exercise_chat(party, host, guest)
    # In-room moderation (by _id; the role conditions filter the one document).
    services.co_host_set(party_id=party.id, user=host, target_id=str(guest.pk), co_host=True)
    services.co_host_set(party_id=party.id, user=host, target_id=str(guest.pk), co_host=False)
    services.participant_mute(party_id=party.id, user=host, target_id=str(guest.pk), muted=True)
    services.host_transfer(party_id=party.id, user=host, target_id=str(guest.pk))
    services.host_transfer(party_id=party.id, user=guest, target_id=str(host.pk))
    services.party_leave(party_id=party.id, user=guest)
    banned = make_user()
    services.party_join(room_code=party.room_code, user=banned)
    services.participant_remove(party_id=party.id, user=host, target_id=str(banned.pk))
    # Staff search by a banned user (banned_created), every status.
    for status in parties.repository.PARTY_STATUSES:
        found = services.party_search(text=banned.username, status=status)
        assert found.count() == (0 if status == "ended" else 1) and found[0:2] is not None
    services.participant_unban(party_id=party.id, user=host, target_id=str(banned.pk))
    # The shared queue (by _id; the version and role conditions filter the one document).
    services.queue_settings(party_id=party.id, user=host, guests_may_queue=True)
    item = services.queue_add(party_id=party.id, user=host, content_id="/m/a.mp4").queue[0]
    services.queue_play(party_id=party.id, user=host, item_id=item.id)
    services.queue_add(party_id=party.id, user=host, content_id="/m/b.mp4")
    services.queue_vote_skip(party_id=party.id, user=host, item_id=item.id)
    # Wait for everyone (by _id): start, join, leave, the end by readiness and by the timeout.
    chat_services.playback_update(party_id=party.id, user=host, state="playing", position=1.0)
    late = make_user()
    services.party_join(room_code=party.room_code, user=late)
    since = services.player_buffering(party_id=party.id, user=host, item_id=item.id)
    services.player_buffering(party_id=party.id, user=late, item_id=item.id)
    services.player_ready(party_id=party.id, user=late)
    services.wait_expire(party_id=party.id, since=since)
    services.queue_settings(party_id=party.id, user=host, wait_for_all=False)
    services.party_end(party_id=party.id, user=host)


def _exercise_chat(party, host, guest):
    sent = [
        chat_services.message_send(party_id=party.id, user=host, text=f"m{i}", message_type="text", client_id=f"c{i}")
        for i in range(3)
    ]
    chat_services.message_send(party_id=party.id, user=host, text="m0", message_type="text", client_id="c0")
    chat_services.system_message_send(party_id=party.id, text="hello")
    first = sent[0].message.id
    chat_services.message_history(party_id=party.id, user=guest, before=None, limit=2, lang="en")
    chat_services.message_history(party_id=party.id, user=guest, before=sent[2].message.id, limit=2)
    chat_services.message_resume(party_id=party.id, user=guest, after=first)
    # History by position (party_at_item_seconds_id), in a party playing a video: from a second,
    # then after a message.
    film = services.party_create(user=host, data=PartySettings(content_id="/m/film.mp4", content_type="vod"))
    for text in ("one", "two"):
        chat_services.message_send(party_id=film.id, user=host, text=text, message_type="text", client_id=text)
    item = film.current_item_id
    page, _ = chat_services.message_history_by_position(party_id=film.id, user=host, item_id=item, limit=1)
    chat_services.message_history_by_position(party_id=film.id, user=host, item_id=item, after=page[0].id, limit=1)
    chat_services.reaction_add(party_id=party.id, message_id=first, user=guest, emoji="👍")
    chat_services.reaction_remove(party_id=party.id, message_id=first, user=guest, emoji="👍")
    chat.repository.get_message(party.id, first, lang="en")
    chat.repository.set_translations(party.id, first, source_language="en", translations={"he": "שלום"})
    chat_services.message_translations(party_id=party.id, user=guest, message_ids=[first])
    chat.repository.latest_timestamp(party.id)
    chat.repository.count_for_party(party.id)
    # Staff moderation: a party's messages by text and by user (party_timestamp_id, then a filter).
    for text, user in (("", ""), ("M", ""), ("", guest.username), ("m", str(host.pk))):
        found = chat_services.message_search(party_id=party.id, text=text, user=user)
        found.count()
        found[0:2]
    # Staff: one user's messages in every party (user_timestamp_id), with their parties' codes (_id).
    by_host = chat_services.message_search_by_author(user_id=str(host.pk))
    by_host.count()
    # The admin's author search: by name, any case, one author or several ($in on the same index).
    for author in (host.username.upper(), str(host.pk)):
        by_name = chat_services.message_search_by_author_name(author=author)
        by_name.count()
        by_name[0:2]
    both = chat.repository.search_user_messages([str(host.pk), str(guest.pk)], offset=0, limit=2)
    assert both and chat.repository.count_user_messages([str(host.pk), str(guest.pk)]) >= len(both)
    services.party_labels_for_staff(party_ids=[m.party_id for m in by_host[0:2]])
    chat.repository.count_all()
    edited = chat_services.message_edit(party_id=party.id, user=host, message_id=sent[2].message.id, text="m2!")
    chat_services.message_delete(party_id=party.id, user=host, message_id=edited.id)
    # Archival (index archived_timestamp_id): both pages, marking, deleting what is marked.
    later = utcnow() + timedelta(seconds=1)
    page = chat.repository.list_unarchived_before(later, after=None, limit=2)
    chat.repository.list_unarchived_before(
        later, after=chat.repository.Cursor(timestamp=page[-1].timestamp, id=page[-1].id), limit=2
    )
    chat.repository.mark_archived([sent[1].message.id], utcnow())
    chat.repository.delete_archived([sent[1].message.id])
    chat_services.message_delete_by_moderator(party_id=party.id, message_id=first, moderator=host)


def test_every_repository_query_is_served_by_an_index(make_user, settings):
    """Every query the repositories issue is served by a declared index (and, on a real server,
    explain shows no collection scan and no in-memory sort)."""
    log = []
    real_db = get_db()
    called = set()
    originals = {
        (module, name): fn
        for module in REPOSITORIES
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__ and not name.startswith("_")
    }

    def tracking(module, name, fn):
        def wrapper(*args, **kwargs):
            called.add((module.__name__, name))
            return fn(*args, **kwargs)

        return wrapper

    recording = lambda: RecordingDatabase(real_db, log)  # noqa: E731
    with (
        mock.patch.object(parties.repository, "get_db", recording),
        mock.patch.object(chat.repository, "get_db", recording),
    ):
        patches = [
            mock.patch.object(module, name, tracking(module, name, fn)) for (module, name), fn in originals.items()
        ]
        for p in patches:
            p.start()
        try:
            _exercise_parties(make_user)
        finally:
            for p in patches:
                p.stop()

    uncalled = {f"{m.__name__}.{n}" for (m, n) in originals} - {f"{m}.{n}" for m, n in called}
    assert not uncalled, f"exercise these repository functions too: {sorted(uncalled)}"
    queries = [q for q in log if q.operation not in {"insert_one", "insert_many"}]
    assert queries
    unserved = [
        q
        for q in queries
        if not query_is_served(q.filter, q.sort, [s.keys for s in declared_indexes() if s.collection == q.collection])
    ]
    assert not unserved, unserved
    if os.environ.get("MONGODB_TEST_URI"):
        problems = {repr(q): explain_problems(real_db, q) for q in queries}
        assert not any(problems.values()), problems
