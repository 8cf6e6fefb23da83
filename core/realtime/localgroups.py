"""One channel-layer subscription per group per process, handed to that process's sockets directly.

With plain Channels groups every socket is a channel of its own: an event sent to a party of 50
is put in 50 queues and wakes 50 consumer loops, each of which runs Channels' dispatch (two
``asyncio.wait`` rounds and two new tasks per event) before the frame is written. Here a process
joins a group once, with one channel of its own, and one task reads that channel and calls each
local member's ``group_event`` in turn, in the order the layer delivered the events. The layer
and its groups stay as they are: several processes (and machines) still serve one party, each
with its own subscription.

A member whose send would wait (its client stopped reading and its write buffer is full) must not
hold up the others: each delivery runs eagerly, and only one that suspends is finished by a task of
its own, with the member's later events queued behind it in order (Python 3.12's eager tasks do
the same; this project runs on 3.11). A member more than ``MAX_BACKLOG`` events behind is told
to leave (``group_overflow``). When the layer fails to read the group (Redis, or the Redis shard
that holds the group, is away), every member hears ``group_unreachable`` and catches up itself.

A group also keeps one **snapshot**: a value its users derive from stored state (the party, for a
chat send's seat check) and may reuse while that state cannot have changed. It is dropped by
every event that is not in ``STATE_KEEPING_EVENTS`` (every change to a party is broadcast after it
is stored), by ``changed`` (this process broadcasting a change), by a failure to read the group
(events may have been lost), and after the age its reader allows (pub/sub delivers at most once).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_BACKLOG = 1000
# Events that change nothing a snapshot is taken from (the party document): chat and its reactions.
STATE_KEEPING_EVENTS = frozenset(
    {"chat.message", "typing", "reaction.update", "message.deleted", "message.edited", "message.translated"}
)
RETRY_FIRST_SECONDS = 0.25
RETRY_MAX_SECONDS = 2.0


class Member(Protocol):
    def group_event(self, event: dict[str, Any]) -> Coroutine[Any, Any, None]: ...

    def group_overflow(self) -> Coroutine[Any, Any, None]: ...

    def group_unreachable(self) -> None:
        """The layer failed to read the group's events: some may be lost. Called once per failure;
        the member catches up on its own and joins again (``join``) once the layer answers."""


class _Delivery:
    """What one member still has to be sent, while a send of its waits."""

    __slots__ = ("backlog", "task")

    def __init__(self) -> None:
        self.backlog: deque[dict[str, Any]] = deque()
        self.task: asyncio.Task | None = None


def _run_eagerly(coro: Coroutine) -> Any:
    """Run ``coro`` until it finishes or first waits; return what it waits on, or None when done."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return (waiting_on,)


async def _finish(coro: Coroutine, waiting_on: Any) -> None:
    """Go on with a coroutine that ``_run_eagerly`` left waiting on ``waiting_on``, as a Task would."""
    while True:
        try:
            if waiting_on is None:  # a bare yield: asyncio.sleep(0)
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait((waiting_on,))  # its result or error goes to the coroutine below
        except BaseException:  # cancelled: the member is leaving
            coro.close()
            raise
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return


class _Group:
    __slots__ = ("name", "channel", "members", "pending", "pump", "generation", "reading", "snapshot")

    def __init__(self, name: str) -> None:
        self.name = name
        self.channel = ""
        self.members: dict[Member, None] = {}  # ordered, for a stable delivery order
        self.pending: dict[Member, _Delivery] = {}
        self.pump: asyncio.Task | None = None
        self.generation = 0  # counts what may have changed the group's state
        self.reading = True  # False from a failed read of the group until its next event
        self.snapshot: tuple[int, float, Any] | None = None  # (generation, time.monotonic(), value)

    def changed(self) -> None:
        self.generation += 1
        self.snapshot = None


class LocalGroups:
    """The groups this process's members are in, for one channel layer and one event loop."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.groups: dict[str, _Group] = {}
        self._joining: dict[str, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self.groups)

    async def join(self, name: str, member: Member) -> None:
        """Add ``member`` to the group (subscribing this process if it is the first), or, for a
        member already in it, join the layer's group again (after an outage Redis may have lost
        it). Raises what the layer raises; the member is added all the same."""
        lock = self._joining.setdefault(name, asyncio.Lock())
        async with lock:
            group = self.groups.get(name)
            if group is None:
                channel = await self.layer.new_channel()
                group = self.groups[name] = _Group(name)
                group.channel = channel
                group.pump = asyncio.get_running_loop().create_task(self._pump(group), name=f"group-pump {name}")
            group.members[member] = None
            await self.layer.group_add(name, group.channel)

    async def leave(self, name: str, member: Member) -> None:
        """Remove ``member``; the last one out unsubscribes this process from the group."""
        group = self.groups.get(name)
        if group is None or member not in group.members:
            return
        del group.members[member]
        delivery = group.pending.pop(member, None)
        if delivery is not None and delivery.task is not None:
            delivery.task.cancel()
        if group.members:
            return
        lock = self._joining.setdefault(name, asyncio.Lock())
        async with lock:
            if group.members or self.groups.get(name) is not group:
                return  # someone joined meanwhile
            del self.groups[name]
            self._joining.pop(name, None)
            group.pump.cancel()
            try:
                await self.layer.group_discard(name, group.channel)
            except Exception:  # noqa: BLE001 - Redis away: the membership expires there by itself
                logger.warning("Channel layer group_discard failed for %s", name)

    def snapshot(self, name: str, *, max_age: float) -> tuple[int | None, Any]:
        """``(token, value)``: the value last remembered for the group, if nothing has changed since
        and it is at most ``max_age`` seconds old (else None); ``token`` (None when this process is
        not reading the group) goes back to ``remember`` with a value read after this call."""
        group = self.groups.get(name)
        if group is None or not group.reading:
            return None, None
        kept = group.snapshot
        if kept is not None and kept[0] == group.generation and time.monotonic() - kept[1] <= max_age:
            return group.generation, kept[2]
        return group.generation, None

    def remember(self, name: str, token: int | None, value: Any) -> None:
        """Keep ``value``, read after ``snapshot`` gave ``token``, unless the group changed since."""
        group = self.groups.get(name)
        if group is not None and token is not None and group.reading and group.generation == token:
            group.snapshot = (token, time.monotonic(), value)

    def changed(self, name: str) -> None:
        """This process changed the group's state (and is about to broadcast it): drop the snapshot."""
        group = self.groups.get(name)
        if group is not None:
            group.changed()

    async def _pump(self, group: _Group) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                event = await self.layer.receive(group.channel)
            except asyncio.CancelledError:
                forget = getattr(self.layer, "forget_channel", None)  # core.realtime.channel_layers
                if forget is not None:
                    forget(group.channel)
                raise
            except Exception:  # noqa: BLE001 - an outage (perhaps of the one Redis shard holding this group)
                group.reading = False
                group.changed()
                if delay == RETRY_FIRST_SECONDS:
                    for member in tuple(group.members):
                        member.group_unreachable()
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_FIRST_SECONDS
            if not group.reading or event.get("type") not in STATE_KEEPING_EVENTS:
                group.reading = True
                group.changed()
            for member in tuple(group.members):
                self._deliver(group, member, event)

    def _deliver(self, group: _Group, member: Member, event: dict[str, Any]) -> None:
        delivery = group.pending.get(member)
        if delivery is not None:
            delivery.backlog.append(event)
            if len(delivery.backlog) > MAX_BACKLOG:
                group.pending.pop(member)
                delivery.task.cancel()
                self._start(group, member, member.group_overflow(), overflow=True)
            return
        self._start(group, member, member.group_event(event))

    def _start(self, group: _Group, member: Member, coro: Coroutine, *, overflow: bool = False) -> None:
        try:
            waiting = _run_eagerly(coro)
        except Exception:  # noqa: BLE001 - one member's fault must not stop the others' deliveries
            logger.exception("Delivering to a member of %s failed", group.name)
            return
        if waiting is None:
            return
        if overflow:  # the close: finish it, nothing more is sent
            task = asyncio.get_running_loop().create_task(_finish(coro, waiting[0]))
            _closing.add(task)  # asyncio keeps only weak references to tasks
            task.add_done_callback(_closing.discard)
            return
        # Only a send that waits gets a queue for the member's next events (the usual send does not).
        delivery = group.pending[member] = _Delivery()
        delivery.task = asyncio.get_running_loop().create_task(self._drain(group, member, delivery, coro, waiting[0]))

    async def _drain(self, group: _Group, member: Member, delivery: _Delivery, coro: Coroutine, waiting_on) -> None:
        try:
            await _finish(coro, waiting_on)
            while delivery.backlog:
                await member.group_event(delivery.backlog.popleft())
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - as in _start
            logger.exception("Delivering to a member of %s failed", group.name)
        finally:
            if group.pending.get(member) is delivery:
                del group.pending[member]


_closing: set[asyncio.Task] = set()
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, LocalGroups]] = weakref.WeakKeyDictionary()


def changed_here(layer, name: str) -> None:
    """``LocalGroups.changed`` for ``name`` in the running loop, if this process reads it there."""
    groups = _by_loop.get(asyncio.get_running_loop(), {}).get(id(layer))
    if groups is not None and groups.layer is layer:
        groups.changed(name)


def local_groups(layer) -> LocalGroups:
    """This process's groups on ``layer`` in the running event loop."""
    per_layer = _by_loop.setdefault(asyncio.get_running_loop(), {})
    groups = per_layer.get(id(layer))
    if groups is None or groups.layer is not layer:
        groups = per_layer[id(layer)] = LocalGroups(layer)
    return groups
