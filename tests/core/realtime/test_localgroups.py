"""core.realtime.localgroups: one subscription per group per process, delivered to each local member."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from core.realtime import localgroups
from core.realtime.localgroups import LocalGroups


class Member:
    """A socket stand-in: records what it is sent; ``stall()`` makes its sends wait, as a full write buffer does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.got: list[int] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.overflowed = False
        self.fail = False
        self.unreachable = 0

    def stall(self) -> None:
        self.writable.clear()

    async def group_event(self, event):
        await self.writable.wait()
        if self.fail:
            raise RuntimeError("a fault in one member")
        self.got.append(event["n"])

    async def group_overflow(self):
        self.overflowed = True

    def group_unreachable(self):
        self.unreachable += 1


async def settle(condition, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def send(layer, count: int, *, first: int = 0) -> None:
    for n in range(first, first + count):
        await layer.group_send("party.x", {"type": "chat.message", "n": n})


async def test_every_member_gets_every_event_in_order_through_one_subscription():
    """Three members of a group get each event once and in order, and the layer's group holds one channel for them."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    members = [Member(str(i)) for i in range(3)]
    try:
        for member in members:
            await groups.join("party.x", member)
        assert len(layer.groups["party.x"]) == 1
        await send(layer, 50)
        await settle(lambda: all(len(m.got) == 50 for m in members))
        assert all(m.got == list(range(50)) for m in members)
    finally:
        for member in members:
            await groups.leave("party.x", member)


async def test_a_stalled_member_holds_up_nobody_and_catches_up_in_order():
    """While one member's sends wait, the others get every event; once it drains it has them all, in order."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    slow, fast = Member("slow"), Member("fast")
    try:
        await groups.join("party.x", slow)
        await groups.join("party.x", fast)
        slow.stall()
        await send(layer, 20)
        await settle(lambda: len(fast.got) == 20)
        assert slow.got == []
        slow.writable.set()
        await settle(lambda: len(slow.got) == 20)
        assert slow.got == list(range(20)) and fast.got == list(range(20))
        await send(layer, 5, first=20)
        await settle(lambda: len(slow.got) == 25)
        assert slow.got == list(range(25))
    finally:
        await groups.leave("party.x", slow)
        await groups.leave("party.x", fast)


async def test_a_member_too_far_behind_is_told_to_leave(monkeypatch):
    """A member that has not taken MAX_BACKLOG events is sent group_overflow (the socket then closes)."""
    monkeypatch.setattr(localgroups, "MAX_BACKLOG", 10)
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    slow, fast = Member("slow"), Member("fast")
    try:
        await groups.join("party.x", slow)
        await groups.join("party.x", fast)
        slow.stall()
        await send(layer, 15)
        await settle(lambda: slow.overflowed and len(fast.got) == 15)
        assert not fast.overflowed
    finally:
        await groups.leave("party.x", slow)
        await groups.leave("party.x", fast)


async def test_a_failing_member_does_not_stop_the_others(caplog):
    """An error in one member's handler is logged and the other members still get every event."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    broken, fine = Member("broken"), Member("fine")
    broken.fail = True
    try:
        await groups.join("party.x", broken)
        await groups.join("party.x", fine)
        await send(layer, 3)
        await settle(lambda: len(fine.got) == 3)
        assert "Delivering to a member of party.x failed" in caplog.text
    finally:
        await groups.leave("party.x", broken)
        await groups.leave("party.x", fine)


async def test_the_last_member_out_unsubscribes_the_process():
    """When the last local member leaves, the process's channel leaves the layer's group and its reader stops."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    first, second = Member("1"), Member("2")
    await groups.join("party.x", first)
    await groups.join("party.x", second)
    pump = groups.groups["party.x"].pump
    await groups.leave("party.x", first)
    assert len(layer.groups["party.x"]) == 1 and not pump.done()
    await groups.leave("party.x", second)
    await asyncio.sleep(0)
    assert not layer.groups.get("party.x") and pump.cancelled()
    assert len(groups) == 0


@pytest.mark.parametrize("members", [1, 50])
async def test_a_member_that_leaves_gets_nothing_more(members):
    """Events sent after a member left never reach it; the rest of the group still gets them."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    gone, *rest = [Member(str(i)) for i in range(members + 1)]
    for member in (gone, *rest):
        await groups.join("party.x", member)
    await send(layer, 2)
    await settle(lambda: len(gone.got) == 2)
    await groups.leave("party.x", gone)
    await send(layer, 2, first=2)
    await settle(lambda: all(len(m.got) == 4 for m in rest))
    assert gone.got == [0, 1]
    for member in rest:
        await groups.leave("party.x", member)


class FailingLayer(InMemoryChannelLayer):
    """A layer whose reads fail ``failures`` times in a row (Redis away), then work again."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def receive(self, channel):
        if self.failures:
            self.failures -= 1
            await asyncio.sleep(0)
            raise ConnectionError("Redis is away")
        return await super().receive(channel)


async def test_members_hear_once_that_the_group_could_not_be_read(monkeypatch):
    """When the layer fails to read the group, each member is told once (to catch up), and events flow again after."""
    monkeypatch.setattr(localgroups, "RETRY_FIRST_SECONDS", 0.01)
    monkeypatch.setattr(localgroups, "RETRY_MAX_SECONDS", 0.02)
    layer = FailingLayer(failures=3)
    groups = LocalGroups(layer)
    members = [Member("1"), Member("2")]
    try:
        for member in members:
            await groups.join("party.x", member)
        await settle(lambda: layer.failures == 0)
        await send(layer, 2)
        await settle(lambda: all(len(m.got) == 2 for m in members))
        assert [m.unreachable for m in members] == [1, 1]
    finally:
        for member in members:
            await groups.leave("party.x", member)


async def test_a_snapshot_lasts_until_the_group_hears_a_change():
    """A remembered value is given back while only chat flows; any other event of the group drops it."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    member = Member("1")
    try:
        await groups.join("party.x", member)
        token, value = groups.snapshot("party.x", max_age=60)
        assert value is None
        groups.remember("party.x", token, "the party")
        await send(layer, 3)
        await settle(lambda: len(member.got) == 3)
        assert groups.snapshot("party.x", max_age=60)[1] == "the party"
        await layer.group_send("party.x", {"type": "playback.state", "n": 3})
        await settle(lambda: len(member.got) == 4)
        assert groups.snapshot("party.x", max_age=60)[1] is None
    finally:
        await groups.leave("party.x", member)


async def test_a_value_read_while_the_group_changed_is_not_kept():
    """A value read before a change this process made (changed) is not remembered after it."""
    layer = InMemoryChannelLayer()
    groups = localgroups.local_groups(layer)
    member = Member("1")
    try:
        await groups.join("party.x", member)
        token, _ = groups.snapshot("party.x", max_age=60)
        localgroups.changed_here(layer, "party.x")
        groups.remember("party.x", token, "read before the change")
        assert groups.snapshot("party.x", max_age=60)[1] is None
    finally:
        await groups.leave("party.x", member)


async def test_a_snapshot_is_given_back_only_within_its_age():
    """Past the age its reader allows, a snapshot is not given back (an event may have been lost)."""
    layer = InMemoryChannelLayer()
    groups = LocalGroups(layer)
    member = Member("1")
    try:
        await groups.join("party.x", member)
        groups.remember("party.x", groups.snapshot("party.x", max_age=60)[0], "the party")
        await asyncio.sleep(0.05)
        assert groups.snapshot("party.x", max_age=60)[1] == "the party"
        assert groups.snapshot("party.x", max_age=0.01)[1] is None
    finally:
        await groups.leave("party.x", member)


async def test_no_snapshot_while_the_group_cannot_be_read(monkeypatch):
    """A failed read of the group drops the snapshot, and none is kept until the group is read again."""
    monkeypatch.setattr(localgroups, "RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(localgroups, "RETRY_MAX_SECONDS", 0.05)
    layer = FailingLayer(failures=0)
    groups = LocalGroups(layer)
    member = Member("1")
    try:
        await groups.join("party.x", member)
        groups.remember("party.x", groups.snapshot("party.x", max_age=60)[0], "the party")
        layer.failures = 1  # the read after the next event fails
        await send(layer, 1)
        await settle(lambda: member.unreachable == 1)
        token, value = groups.snapshot("party.x", max_age=60)
        assert (token, value) == (None, None)
        groups.remember("party.x", token, "read during the outage")
        await send(layer, 1, first=1)
        await settle(lambda: len(member.got) == 2)
        assert groups.snapshot("party.x", max_age=60)[1] is None
    finally:
        await groups.leave("party.x", member)


async def test_a_snapshot_is_kept_only_for_a_group_this_process_reads():
    """Nothing is remembered for a group no local member is in."""
    groups = LocalGroups(InMemoryChannelLayer())
    token, _ = groups.snapshot("party.y", max_age=60)
    groups.remember("party.y", token, "the party")
    assert groups.snapshot("party.y", max_age=60) == (None, None)
