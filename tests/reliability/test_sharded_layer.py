"""A party spread over two app servers, with the channel layer on two Redis servers
(CHANNEL_LAYER_REDIS_URLS), one of which is killed and started again mid-chat.

The two servers share one database: they run in one process on two ports and two event loops, each
with its own channel layer, so everything between them goes through the two Redis servers
(tests/reliability/twin_servers.py says why not two processes: the embedded database has one
writer process and no MongoDB server can run here). Both Redis servers are ours, on ports 6391-6399;
rate limits and presence (REDIS_URL) live on the first, which stays up.

"Once" is what a person sees: clients drop a message they already have, by id (docs/PROTOCOL.md),
so a socket that caught up after the outage may be sent a message twice as frames, and shows it once.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from core.realtime.channel_layers import RedisPubSubChannelLayer
from core.realtime.fanout import party_group
from tests.reliability.harness import PrivateRedis, TwinServers, free_port_in, http
from tests.reliability.wsclient import Client
from tests.support import unavailable

pytestmark = pytest.mark.redis

SHARD_PORTS = range(6391, 6400)
PARTIES_PER_SHARD = 2
SOCKETS_PER_SERVER = 2  # per party: 4 members, 2 sockets on each server
REPLY_TIMEOUT_S = 5
ARRIVAL_TIMEOUT_S = 15


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Two redis-servers of our own; stopped when the module ends."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)", service="redis-server")
    started: list[PrivateRedis] = []
    try:
        for name in ("shard0", "shard1"):
            redis = PrivateRedis(tmp_path_factory.mktemp(name), port=free_port_in(SHARD_PORTS))
            redis.start()
            started.append(redis)
        yield started
    finally:
        for redis in started:
            redis.stop()


@pytest.fixture(scope="module")
def twins(shards, tmp_path_factory):
    servers = TwinServers(
        tmp_path_factory.mktemp("twin-servers"),
        redis_url=f"redis://127.0.0.1:{shards[0].port}/1",
        channel_layer_redis_urls=[redis.url for redis in shards],
    )
    try:
        servers.prepare()
        servers.start()
    except RuntimeError as exc:
        servers.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield servers
    finally:
        servers.stop()


async def _parties_on_both_shards(twins: TwinServers, shard_urls: list[str]) -> dict[int, list[dict]]:
    """PARTIES_PER_SHARD parties whose group lives on each shard, each with 4 seated members."""
    layer = RedisPubSubChannelLayer(hosts=shard_urls)  # only to ask where a group lives
    found: dict[int, list[dict]] = {0: [], 1: []}
    for _ in range(40):  # consecutive ObjectIds often hash alike: runs of one shard
        if all(len(parties) == PARTIES_PER_SHARD for parties in found.values()):
            break
        (host,) = twins.take_tokens(1)
        party = twins.party_with([host])
        shard = layer.shard_index(party_group(party["id"]), group=True)
        if len(found[shard]) < PARTIES_PER_SHARD:
            guests = twins.take_tokens(2 * SOCKETS_PER_SERVER - 1)
            for token in guests:
                status, body = http(
                    "POST", f"{twins.base_url}/api/parties/join/", token=token, body={"room_code": party["room_code"]}
                )
                assert status == 200, (status, body)
            found[shard].append({"id": party["id"], "tokens": [host, *guests], "shard": shard})
    assert all(len(parties) == PARTIES_PER_SHARD for parties in found.values()), found
    return found


class Party:
    """A party's sockets (half on each server) and the messages it acknowledged, in the order sent."""

    def __init__(self, twins: TwinServers, party: dict) -> None:
        self.id, self.shard = party["id"], party["shard"]
        self.clients = [
            Client(twins.at(i % 2), token, self.id, name=f"p{self.id[-4:]}-s{i % 2}-{i}")
            for i, token in enumerate(party["tokens"])
        ]
        self.acked: list[str] = []

    async def round_of_sends(self, tag: str) -> None:
        """Every member sends one message, one after another (each waits for its reply), so that the
        party's order is the order of the acknowledgements."""
        for client in self.clients:
            reply, took = await client.send_chat(
                f"{tag} {client.name}", f"{client.name}-{tag}", timeout=REPLY_TIMEOUT_S
            )
            assert reply is not None, f"{tag}: {client.name} got no reply in {took:.1f} s ({client.close_codes})"
            assert reply["type"] == "chat.message", reply
            self.acked.append(reply["message"]["id"])

    def missing(self) -> dict[str, int]:
        return {c.name: len(set(self.acked) - set(c.seen)) for c in self.clients if set(self.acked) - set(c.seen)}

    def check(self, *, caught_up: set[str]) -> None:
        """Every socket shows every acknowledged message once, in the party's order (a person sees the
        client's list: wsclient.Client.shown); a socket that did not catch up got each as exactly one
        chat.message frame."""
        for client in self.clients:
            shown = [message_id for message_id in client.shown if message_id in set(self.acked)]
            assert shown == self.acked, (
                f"{client.name} shows {len(shown)} of {len(self.acked)} messages, or out of order"
            )
            frames = [f["message"]["id"] for _, f in client.frames if f["type"] == "chat.message"]
            if client.name not in caught_up:
                repeated = {m for m in frames if frames.count(m) > 1}
                assert not repeated, f"{client.name} was sent {len(repeated)} messages twice"
            assert all(client.is_open for client in self.clients), {c.name: c.close_codes for c in self.clients}


async def _all_arrive(parties: list[Party]) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while any(party.missing() for party in parties) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    missing = {name: count for party in parties for name, count in party.missing().items()}
    assert not missing, f"messages a socket never got: {missing}"


def _caught_up(parties: list[Party], opened: dict[str, int]) -> set[str]:
    """Names of the sockets that were sent a party.state after the one they opened with (their catch-up)."""
    return {
        client.name
        for party in parties
        for client in party.clients
        if any(frame["type"] == "party.state" for _, frame in client.frames[opened[client.name] :])
    }


async def test_a_party_on_two_servers_and_two_redis_shards_gets_every_message_once_in_order(twins, shards):
    """Sockets of four parties on two servers and two Redis shards get every message once and in order, and
    when one shard is killed and restarted the sockets that listened there catch up with nothing lost."""
    by_shard = await _parties_on_both_shards(twins, [redis.url for redis in shards])
    parties = [Party(twins, party) for party in by_shard[0] + by_shard[1]]
    try:
        for party in parties:
            for client in party.clients:
                await client.open()
        opened = {c.name: len(c.frames) for p in parties for c in p.clients}

        # Both shards up: every message reaches every socket, on either server, once and in order.
        for tag in ("one", "two"):
            await asyncio.gather(*(party.round_of_sends(tag) for party in parties))
        await _all_arrive(parties)
        for party in parties:
            party.check(caught_up=set())

        # Shard 1 is killed: people keep sending (stored and acknowledged) in every party.
        shards[1].stop()
        await asyncio.sleep(1.0)  # each server's watchdog pings every 0.5 s
        for view in (twins.at(0), twins.at(1)):
            status, body = http("GET", f"{view.base_url}/health/ready")
            assert status == 503 and body["checks"]["channel_layer"] == "down", (status, body)
        for tag in ("during1", "during2"):
            await asyncio.gather(*(party.round_of_sends(tag) for party in parties))

        shards[1].start()  # the same port, empty: it has forgotten every subscription
        await asyncio.sleep(4.0)  # recovered after 1.5 s of answers, then each socket's retry (at most 2 s)
        await asyncio.gather(*(party.round_of_sends("after") for party in parties))
        await _all_arrive(parties)

        caught_up = _caught_up(parties, opened)
        for party in parties:
            party.check(caught_up=caught_up)
        # Every socket of a party whose group lived on the lost shard had to catch up.
        for party in parties:
            if party.shard == 1:
                assert {c.name for c in party.clients} <= caught_up
        for view in (twins.at(0), twins.at(1)):
            assert http("GET", f"{view.base_url}/health/ready")[0] == 200
    finally:
        for party in parties:
            for client in party.clients:
                await client.close()
        if not shards[1].answers():
            shards[1].start()
