import asyncio
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chat import repository as chat_repository
from chat.repository import NewMessage
from parties import repository, services
from parties.services import PartySettings
from tests.chat.test_services import listen
from watchparty import operations
from watchparty.timeutil import utcnow


def make_party(user, *, hours_idle=0, title=""):
    """A party whose last activity (its creation) was ``hours_idle`` hours ago."""
    at = utcnow() - timedelta(hours=hours_idle)
    original = services.utcnow
    services.utcnow = lambda: at
    try:
        return services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod", content_title=title))
    finally:
        services.utcnow = original


def say(party, *, hours_ago):
    chat_repository.insert_message(
        NewMessage(
            party_id=party.id,
            user_id="1",
            user_name="Alice",
            message="still here",
            message_type="text",
            client_id=None,
            timestamp=utcnow() - timedelta(hours=hours_ago),
        )
    )


def is_active(party):
    return repository.get_party(party.id).is_active


def nothing_heard(receive):
    with pytest.raises(asyncio.TimeoutError):
        receive(0.2)
    return True


def test_ends_only_idle_parties_and_broadcasts_party_ended(user, capsys):
    """Parties idle longer than --idle end, and their sockets hear party.ended; active ones stay."""
    idle, fresh = make_party(user, hours_idle=7), make_party(user, hours_idle=1)
    hear_idle, hear_fresh = listen(idle.id), listen(fresh.id)
    call_command("end_stale_parties", "--idle", "6h")
    event = hear_idle()
    assert event["type"] == "party.ended"
    frame = json.loads(event["frame"])
    assert frame["party_id"] == idle.id and frame["ended_at"].endswith("Z")
    assert not is_active(idle) and is_active(fresh)
    assert nothing_heard(hear_fresh)
    captured = capsys.readouterr()
    assert f"ended {idle.room_code}" in captured.out and fresh.id not in captured.out
    assert "checked 1 idle party" in captured.err  # progress line


def test_ended_parties_are_listed_by_room_code_title_and_host(user, capsys):
    """Each party the sweep ends (or would end) is named by its room code, title and host, with its id."""
    idle = make_party(user, hours_idle=7, title="The Matrix")
    call_command("end_stale_parties", "--idle", "6h", "--dry-run")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("would end"))
    assert line == f'would end {idle.room_code} "The Matrix" hosted by Alice ({idle.id})'


def test_a_recent_chat_message_keeps_a_party_alive(user):
    """A party whose own activity is old but which had a chat message recently is not stale; one
    whose newest message is old too is."""
    chatting, quiet = make_party(user, hours_idle=8), make_party(user, hours_idle=8)
    say(chatting, hours_ago=1)
    say(quiet, hours_ago=7)
    call_command("end_stale_parties", "--idle", "6h")
    assert is_active(chatting) and not is_active(quiet)


def test_dry_run_changes_nothing(user, capsys):
    """--dry-run lists the parties it would end, ends none and sends nothing."""
    idle = make_party(user, hours_idle=30)
    hear = listen(idle.id)
    call_command("end_stale_parties", "--idle", "1d", "--dry-run")
    assert f"would end {idle.room_code}" in capsys.readouterr().out
    assert is_active(idle)
    assert nothing_heard(hear)


def test_sweep_pages_through_kept_parties(user):
    """Parties kept alive (or all of them, on a dry run) do not stop the sweep from reaching the
    rest, and none is listed twice."""
    parties = [make_party(user, hours_idle=10 + i) for i in range(5)]
    say(parties[0], hours_ago=0)
    would = operations.party_end_stale(idle=timedelta(hours=6), dry_run=True, batch_size=2)
    assert sorted(would) == sorted(p.id for p in parties[1:])
    ended = operations.party_end_stale(idle=timedelta(hours=6), dry_run=False, batch_size=2)
    assert sorted(ended) == sorted(would)
    assert is_active(parties[0])


def test_a_party_joined_during_the_sweep_is_not_ended(user, make_user, monkeypatch):
    """Someone joining between the sweep's check and its end keeps the party alive."""
    party = make_party(user, hours_idle=10)
    guest = make_user()
    real_latest = operations.chat_repository.latest_timestamp

    def join_meanwhile(party_id):
        services.party_join(room_code=party.room_code, user=guest)
        return real_latest(party_id)

    monkeypatch.setattr(operations.chat_repository, "latest_timestamp", join_meanwhile)
    hear = listen(party.id)
    assert operations.party_end_stale(idle=timedelta(hours=6), dry_run=False) == []
    assert is_active(party)
    assert hear()["type"] == "participant.joined"
    assert nothing_heard(hear)


@pytest.mark.parametrize("value", ["6", "six hours", "0h", "-6h", "6y"])
def test_bad_idle_is_refused(user, value):
    """--idle must be a positive duration such as 90m, 6h, 7d or 2w; nothing is ended otherwise."""
    idle = make_party(user, hours_idle=10)
    with pytest.raises(CommandError, match="--idle"):
        call_command("end_stale_parties", "--idle", value)
    assert is_active(idle)


def test_idle_is_required():
    """Without --idle the command refuses to run."""
    with pytest.raises(CommandError):
        call_command("end_stale_parties")


def test_help_documents_the_options():
    """end_stale_parties --help names --idle and --dry-run."""
    from parties.management.commands.end_stale_parties import Command

    text = Command().create_parser("manage.py", "end_stale_parties").format_help()
    assert "--idle" in text and "--dry-run" in text


# --- backfill_title_words ---------------------------------------------------------------------


def _as_before_title_words(*parties) -> None:
    """Make parties look as they were stored before title words existed (no such field)."""
    from bson import ObjectId

    from watchparty.mongo import get_db

    get_db()["parties"].update_many(
        {"_id": {"$in": [ObjectId(p.id) for p in parties]}}, {"$unset": {"title_words": ""}}
    )


def _found_by_title(text: str) -> set[str]:
    return {p.room_code for p in services.party_search(text=text, status="all")[0:100]}


def test_backfill_title_words_makes_old_parties_searchable_by_title(user, capsys, settings):
    """Parties stored without title words are found by title once the backfill has run, in batches;
    a second run changes nothing."""
    settings.PARTY_MAX_ACTIVE_PER_HOST = 10
    old = [make_party(user, hours_idle=i, title=f"The Matrix part {i}") for i in range(5)]
    untitled = make_party(user, title="")
    recent = make_party(user, title="Matrix Reloaded")
    _as_before_title_words(*old, untitled)
    assert _found_by_title("MATRIX") == {recent.room_code}
    call_command("backfill_title_words", "--batch-size", "2")
    captured = capsys.readouterr()
    assert "6 parties given title words." in captured.out  # the five old ones and the untitled one
    assert captured.err.count("without title words") == 3  # batches of 2, 2 and 2
    assert _found_by_title("matrix") == {recent.room_code, *(p.room_code for p in old)}
    assert _found_by_title("part 3") == {old[3].room_code}
    call_command("backfill_title_words")
    again = capsys.readouterr()
    assert "0 parties given title words." in again.out and "without title words" not in again.err


def test_backfill_title_words_refuses_a_bad_batch_size(user):
    """A batch size outside 1-10000 is refused with a clear message, and nothing changes."""
    party = make_party(user, title="Dune")
    _as_before_title_words(party)
    for size in ("0", "10001"):
        with pytest.raises(CommandError, match="--batch-size must be between 1 and 10000"):
            call_command("backfill_title_words", "--batch-size", size)
    assert _found_by_title("dune") == set()
