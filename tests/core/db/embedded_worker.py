"""A process that uses the embedded database through the app's services, for test_embedded_store.

    python -m tests.core.db.embedded_worker write [--count N]
        Takes the data file as a server does, then creates parties and sends chat messages through
        parties.services / chat.services, printing "PARTY <id> <room code>" and "MESSAGE <party id>
        <id>" after each call has returned (acknowledged). Runs until killed, or N messages.
    python -m tests.core.db.embedded_worker check
        Reads {"parties": {id: room code}, "messages": {id: party id}} on stdin, reopens the data
        file and prints JSON: what is missing, the index differences, and whether a second active
        party with a stored room code is refused.

EMBEDDED_DB_PATH names the file; MONGODB_URI must be unset.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402

from chat import services as chat_services  # noqa: E402
from core.db.client import get_db, open_embedded_for_serving  # noqa: E402
from core.db.indexes import index_differences  # noqa: E402
from core.timeutil import utcnow  # noqa: E402
from parties import repository as party_repository  # noqa: E402
from parties import services as party_services  # noqa: E402

# Services need only the user's id and name: no relational database is involved.
HOST = User(pk=4242, username="host", first_name="Host")


def write(count: int | None) -> None:
    open_embedded_for_serving()
    sent = 0
    while count is None or sent < count:
        if sent % 20 == 0:
            party = party_services.party_create(
                user=HOST, data=party_services.PartySettings(content_id="dQw4w9WgXcQ", content_type="youtube")
            )
            print(f"PARTY {party.id} {party.room_code}", flush=True)
        result = chat_services.message_send(
            party_id=party.id, user=HOST, text=f"message {sent}", message_type="text", client_id=None
        )
        print(f"MESSAGE {party.id} {result.message.id}", flush=True)
        sent += 1


def check() -> None:
    expected = json.load(sys.stdin)
    open_embedded_for_serving()
    missing_parties = []
    for party_id in expected["parties"]:
        try:
            party_services.party_get_for_member(party_id=party_id, user=HOST, require_active=True)
        except Exception:  # noqa: BLE001 - any failure means the party is not usable
            missing_parties.append(party_id)
    stored: set[str] = set()
    for party_id in set(expected["messages"].values()):
        before = None
        while True:
            page, before = chat_services.message_history(party_id=party_id, user=HOST, before=before, limit=50)
            stored.update(message.id for message in page)
            if before is None:
                break
    missing_messages = [message_id for message_id in expected["messages"] if message_id not in stored]
    duplicate_refused = None
    if expected["parties"]:
        taken = next(iter(expected["parties"].values()))
        try:
            party_repository.insert_party(
                party_repository.NewParty(
                    room_code=taken,
                    host_id="1",
                    host_name="other",
                    content_id="dQw4w9WgXcQ",
                    content_type="youtube",
                    content_title="",
                    max_participants=10,
                    chat_enabled=True,
                    sync_playback=True,
                    created_at=utcnow(),
                )
            )
            duplicate_refused = False
        except party_repository.RoomCodeTaken:
            duplicate_refused = True
    print(
        json.dumps(
            {
                "missing_parties": missing_parties,
                "missing_messages": missing_messages,
                "messages_stored": len(stored),
                "index_differences": index_differences(get_db()),
                "duplicate_room_code_refused": duplicate_refused,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--count" else None)
    else:
        check()
