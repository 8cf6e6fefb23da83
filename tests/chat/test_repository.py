import threading
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from chat import repository
from chat.repository import NewMessage

PARTY = "65a1b2c3d4e5f60718293a4b"
# Recent (an hour old), as live chat is; whole
# milliseconds, as MongoDB stores them.
T0 = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)


def store(n: int, *, party_id: str = PARTY, same_timestamp_every: int = 1, start: int = 0):
    """Store n messages; timestamps repeat in runs of ``same_timestamp_every``."""
    stored = []
    for i in range(start, start + n):
        stored.append(
            repository.insert_message(
                NewMessage(
                    party_id=party_id,
                    user_id="1",
                    user_name="Alice",
                    message=f"message {i}",
                    message_type="text",
                    client_id=f"c{i}",
                    timestamp=T0 + timedelta(milliseconds=i // same_timestamp_every),
                )
            )
        )
    return stored


def test_newest_page_first_returned_oldest_first():
    """Without a cursor the newest messages come back, in chronological order."""
    store(120)
    page, has_more = repository.list_before(PARTY, before=None, limit=50, lang=None)
    assert [m.message for m in page] == [f"message {i}" for i in range(70, 120)]
    assert has_more


def test_paging_500_messages_with_equal_timestamps_sees_each_once():
    """Paging back through 500 messages, 25 to a timestamp, yields every message exactly once."""
    stored = store(500, same_timestamp_every=25)
    seen: list[str] = []
    cursor = None
    while True:
        page, has_more = repository.list_before(PARTY, before=cursor, limit=37, lang=None)
        seen = [m.id for m in page] + seen
        if not has_more:
            break
        cursor = repository.get_cursor(PARTY, page[0].id)
    assert seen == [m.id for m in stored]


def test_resume_returns_exactly_the_newer_messages_in_order():
    """list_after returns every message newer than the cursor, oldest first, even at equal timestamps."""
    stored = store(40, same_timestamp_every=10)
    cursor = repository.get_cursor(PARTY, stored[14].id)
    after = repository.list_after(PARTY, after=cursor, limit=1000)
    assert [m.id for m in after] == [m.id for m in stored[15:]]


def test_other_parties_messages_are_not_listed():
    """History never mixes parties."""
    store(3)
    store(2, party_id="65a1b2c3d4e5f60718293a4c", start=100)
    page, _ = repository.list_before(PARTY, before=None, limit=50, lang=None)
    assert len(page) == 3


def test_duplicate_client_id_is_refused_by_the_database():
    """The same (party, user, client_id) cannot be stored twice."""
    store(1)
    with pytest.raises(repository.DuplicateClientId):
        store(1)


def test_messages_without_client_id_never_collide():
    """System messages (no client_id) do not trip the idempotency index."""
    for _ in range(3):
        repository.insert_message(NewMessage(PARTY, "system", "Watch Party", "hello", "system", None, T0))
    assert repository.count_for_party(PARTY) == 3


def test_projection_returns_only_requested_translation():
    """History carries only the requested language's translation."""
    [message] = store(1)
    repository.set_translations(PARTY, message.id, source_language="en", translations={"he": "שלום", "fr": "salut"})
    page, _ = repository.list_before(PARTY, before=None, limit=10, lang="he")
    assert page[0].translations == {"he": "שלום"} and page[0].source_language == "en"
    page, _ = repository.list_before(PARTY, before=None, limit=10, lang=None)
    assert page[0].translations == {}


def test_reaction_add_and_remove():
    """Adding twice keeps one entry; removing the last user drops the emoji."""
    [message] = store(1)
    kwargs = dict(max_emoji=20, max_users=100)
    repository.add_reaction(PARTY, message.id, emoji="👍", user_id="1", **kwargs)
    outcome = repository.add_reaction(PARTY, message.id, emoji="👍", user_id="1", **kwargs)
    assert outcome.reactions == {"👍": ["1"]} and outcome.refused is None
    assert repository.remove_reaction(PARTY, message.id, emoji="👍", user_id="1").reactions == {}
    assert repository.add_reaction(PARTY, "65a1b2c3d4e5f60718293aff", emoji="👍", user_id="1", **kwargs) is None


EMOJI = [
    "😀",
    "😁",
    "😂",
    "🤣",
    "😃",
    "😄",
    "😅",
    "😆",
    "😉",
    "😊",
    "😋",
    "😎",
    "😍",
    "😘",
    "🥰",
    "😗",
    "😙",
    "😚",
    "🙂",
    "🤗",
    "🤩",
    "🤔",
    "🤨",
    "😐",
    "😑",
    "😶",
    "🙄",
    "😏",
    "😣",
    "😥",
]


def _run_concurrently(fns):
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_adds_never_pass_the_emoji_limit(round_):
    """30 different emoji added at once: exactly 20 stick, the rest are refused."""
    [message] = store(1)
    results = _run_concurrently(
        [
            (
                lambda e=e, i=i: repository.add_reaction(
                    PARTY, message.id, emoji=e, user_id=str(i), max_emoji=20, max_users=100
                )
            )
            for i, e in enumerate(EMOJI)
        ]
    )
    assert sum(r.refused == "emoji_limit" for r in results) == 10
    final = repository.get_message(PARTY, message.id)
    assert len(final.reactions) == 20


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_adds_never_pass_the_user_limit(round_):
    """120 users reacting with one emoji at once: exactly 100 are counted."""
    [message] = store(1)
    results = _run_concurrently(
        [
            (
                lambda i=i: repository.add_reaction(
                    PARTY, message.id, emoji="🔥", user_id=str(i), max_emoji=20, max_users=100
                )
            )
            for i in range(120)
        ]
    )
    assert sum(r.refused == "user_limit" for r in results) == 20
    final = repository.get_message(PARTY, message.id)
    assert len(final.reactions["🔥"]) == 100 and len(set(final.reactions["🔥"])) == 100


def test_delete_message():
    """A deleted message is gone from history; deleting again finds nothing."""
    [message] = store(1)
    assert repository.delete_message(PARTY, message.id).id == message.id
    assert repository.delete_message(PARTY, message.id) is None
    assert repository.list_before(PARTY, before=None, limit=10, lang=None) == ([], False)


def test_latest_timestamp():
    """The party's last activity is its newest message's time."""
    assert repository.latest_timestamp(PARTY) is None
    stored = store(3)
    assert repository.latest_timestamp(PARTY) == stored[-1].timestamp


def test_malformed_ids_find_nothing():
    """Ids that are not ObjectIds never reach a query."""
    assert repository.get_message(PARTY, "nope") is None
    assert repository.get_cursor(PARTY, str(ObjectId())) is None


def test_retention_deletes_only_messages_archived_long_enough_ago(mongo_db, settings):
    """The TTL counts from archived_at: an old message never archived is kept, one archived
    CHAT_MESSAGE_TTL_DAYS ago is deleted, one archived just now is kept however old it is."""
    from core.db.client import using_embedded_database

    info = mongo_db[repository.COLLECTION].index_information()["archived_at_ttl"]
    assert info["expireAfterSeconds"] == settings.CHAT_MESSAGE_TTL_DAYS * 86_400
    if not using_embedded_database():
        pytest.skip("a real server's TTL monitor runs on its own schedule (once a minute)")
    long_ago = datetime.now(timezone.utc) - timedelta(days=settings.CHAT_MESSAGE_TTL_DAYS + 5)
    unarchived, archived_long_ago, archived_now = (
        repository.insert_message(
            NewMessage(
                party_id=PARTY,
                user_id="1",
                user_name="Alice",
                message=text,
                message_type="text",
                client_id=text,
                timestamp=long_ago,
            )
        )
        for text in ("never archived", "archived long ago", "archived now")
    )
    repository.mark_archived([archived_long_ago.id], long_ago + timedelta(minutes=1))
    repository.mark_archived([archived_now.id], datetime.now(timezone.utc))
    mongo_db[repository.COLLECTION]._store._watchparty_ttl_ran_at = -1e9  # the monitor is due now
    kept = {m.message for m in repository.list_before(PARTY, before=None, limit=10, lang=None)[0]}
    assert kept == {"never archived", "archived now"}
