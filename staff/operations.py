"""Operator use cases that need both apps (parties and chat), called by the management commands.

They live here, not in ``parties.services``, because ``chat.services`` imports ``parties.services``:
a sweep that reads chat activity from the party side would make an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from chat import repository as chat_repository
from core.timeutil import utcnow
from parties import repository as party_repository
from parties.services import party_end_by_system

STALE_SWEEP_BATCH_SIZE = 200


@dataclass
class StaleSweepProgress:
    """Running totals of a stale-party sweep, handed to the progress callback after each batch."""

    cutoff: datetime
    checked: int = 0
    ended: list[str] = field(default_factory=list)
    ended_parties: list = field(default_factory=list)  # parties_repository.Party, as read before ending
    kept_by_chat: int = 0  # idle by the party's own activity, but a chat message is recent
    active_again: int = 0  # someone joined, left or played while the sweep ran


def party_end_stale(
    *,
    idle: timedelta,
    dry_run: bool,
    batch_size: int = STALE_SWEEP_BATCH_SIZE,
    on_batch: Callable[[StaleSweepProgress], None] | None = None,
) -> list[str]:
    """End every active party with no activity for ``idle``: nothing joined, left, played or paused
    (the party's ``last_activity_at``) and no chat message since then. Each ended party's sockets
    get ``party.ended``. Returns the ids of the parties ended (with ``dry_run``: the parties that
    would be ended; nothing changes and nothing is sent).

    The end is conditional on the party still being idle, so a join in the middle of the sweep
    keeps the party alive.
    """
    progress = StaleSweepProgress(cutoff=utcnow() - idle)
    after: tuple[datetime, str] | None = None
    while True:
        batch = party_repository.list_idle_active(progress.cutoff, after=after, limit=batch_size)
        if not batch:
            break
        # Page by position, so parties kept alive (or all of them, on a dry run) are not read again.
        after = (batch[-1].last_activity_at, batch[-1].id)
        for party in batch:
            progress.checked += 1
            latest_message = chat_repository.latest_timestamp(party.id)
            if latest_message is not None and latest_message >= progress.cutoff:
                progress.kept_by_chat += 1
                continue
            if dry_run:
                progress.ended.append(party.id)
                progress.ended_parties.append(party)
                continue
            result = party_end_by_system(party_id=party.id, idle_before=progress.cutoff)
            if result.is_active:
                progress.active_again += 1
                continue
            progress.ended.append(party.id)
            progress.ended_parties.append(party)
        if on_batch is not None:
            on_batch(progress)
    return progress.ended
