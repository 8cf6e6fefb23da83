"""manage.py backfill_title_words: parties stored before title words existed become searchable by title."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from parties import services
from tests.staff.test_end_stale_parties import make_party


def _as_before_title_words(*parties) -> None:
    """Make parties look as they were stored before title words existed (no such field)."""
    from bson import ObjectId

    from core.db.client import get_db

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
