"""The embedded database's durable layer: restart, kill -9, one writer, read-only commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import mongomock
import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from core.db import embedded
from core.db.embedded_store import DurableFile, EmbeddedDatabaseBusy
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="watchparty.settings",
        EMBEDDED_DB_PATH=str(tmp_path / "embedded.sqlite3"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=str(ROOT),
        # The worker sends as fast as it can; the default send limit would stop it.
        CHAT_SEND_RATE_LIMIT_COUNT="1000000",
        CHAT_SEND_USER_RATE_LIMIT_COUNT="1000000",
        PARTY_MAX_ACTIVE_PER_HOST="1000",
        **extra,
    )
    return env


def _worker(env, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.db.embedded_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _acknowledged(lines) -> dict:
    parties, messages = {}, {}
    for line in lines:
        kind, *rest = line.split()
        if kind == "PARTY":
            parties[rest[0]] = rest[1]
        elif kind == "MESSAGE":
            messages[rest[1]] = rest[0]
    return {"parties": parties, "messages": messages}


def _check(env, expected: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.core.db.embedded_worker", "check"],
        cwd=ROOT,
        env=env,
        input=json.dumps(expected),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _mongomock_client(durable: DurableFile):
    embedded._serialize_mongomock_writes()
    embedded._expire_like_mongodb()
    embedded._index_unique_keys()
    embedded._write_updates_through()
    return mongomock.MongoClient(tz_aware=True, _store=durable.load())


def test_parties_and_history_survive_a_restart(tmp_path):
    """A party and its messages, created by one process that then stops, open again with their history in the next."""
    env = _env(tmp_path)
    worker = _worker(env, "write", "--count", "30")
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    expected = _acknowledged(out.splitlines())
    assert len(expected["parties"]) == 2 and len(expected["messages"]) == 30
    report = _check(env, expected)
    assert report["missing_parties"] == [] and report["missing_messages"] == []
    assert report["messages_stored"] == 30


def test_a_killed_writer_loses_no_acknowledged_write(tmp_path):
    """kill -9 in mid-run: every party and message the writer was told is stored is there after a reopen,
    with every declared index, and a second active party with a stored room code is still refused."""
    env = _env(tmp_path)
    worker = _worker(env, "write")
    lines = []
    try:
        while sum(line.startswith("MESSAGE") for line in lines) < 150:
            line = worker.stdout.readline()
            assert line, worker.stderr.read()
            lines.append(line)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    lines.extend(worker.stdout.read().splitlines())  # whatever it printed before it died
    expected = _acknowledged(lines)
    report = _check(env, expected)
    assert report["missing_parties"] == [] and report["missing_messages"] == []
    assert report["index_differences"] == []
    assert report["duplicate_room_code_refused"] is True


def test_documents_and_indexes_come_back_as_stored(tmp_path):
    """ObjectIds, datetimes, nested arrays, in-place updates, deletes and index options all read back
    from the file, and a unique partial index still refuses a duplicate."""
    path = tmp_path / "store.sqlite3"
    durable = DurableFile(path)
    items = _mongomock_client(durable)["app"]["items"]
    items.create_index([("code", 1)], name="code_active", unique=True, partialFilterExpression={"ended": None})
    items.create_index([("at", -1)], name="at_ttl", expireAfterSeconds=3600)
    owner = ObjectId()
    at = dt.datetime(2099, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    first = items.insert_one({"code": "ABC", "ended": None, "owner": owner, "at": at, "seats": [[1, 2], {"a": [3]}]})
    items.update_one({"_id": first.inserted_id}, {"$push": {"seats": 4}, "$set": {"title": "é"}})
    gone = items.insert_one({"code": "OLD", "ended": at})
    items.delete_one({"_id": gone.inserted_id})
    durable.close()

    durable = DurableFile(path)
    items = _mongomock_client(durable)["app"]["items"]
    try:
        assert list(items.find({}, {"_id": 0})) == [
            {"code": "ABC", "ended": None, "owner": owner, "at": at, "seats": [[1, 2], {"a": [3]}, 4], "title": "é"}
        ]
        info = items.index_information()
        assert info["code_active"]["unique"] and info["code_active"]["partialFilterExpression"] == {"ended": None}
        assert info["at_ttl"]["expireAfterSeconds"] == 3600 and info["at_ttl"]["key"] == [("at", -1)]
        with pytest.raises(DuplicateKeyError):
            items.insert_one({"code": "ABC", "ended": None})
        items.insert_one({"code": "ABC", "ended": at})  # outside the partial filter
    finally:
        durable.close()


def test_dropping_a_database_deletes_its_rows(tmp_path):
    """A dropped database leaves nothing in the file (the test suite drops one per test)."""
    path = tmp_path / "store.sqlite3"
    durable = DurableFile(path)
    client = _mongomock_client(durable)
    client["gone"]["items"].create_index([("code", 1)], unique=True)
    client["gone"]["items"].insert_many([{"code": n} for n in range(5)])
    client["kept"]["items"].insert_one({"code": 1})
    client.drop_database("gone")
    durable.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT db, COUNT(*) FROM documents GROUP BY db").fetchall() == [("kept", 1)]
        assert conn.execute("SELECT COUNT(*) FROM indexes WHERE db = 'gone'").fetchone() == (0,)


def test_a_second_writer_is_refused_with_what_to_do(tmp_path):
    """While one process writes the file, another cannot, and is told to stop the first or use MongoDB."""
    first = DurableFile(tmp_path / "store.sqlite3")
    try:
        with pytest.raises(EmbeddedDatabaseBusy, match=r"in use by process \d+.*MONGODB_URI"):
            DurableFile(tmp_path / "store.sqlite3", lock_wait_seconds=0.3)
    finally:
        first.close()


def test_a_writer_waits_for_the_previous_one_to_exit(tmp_path):
    """A new writer waits for the lock (uvicorn --reload: the old worker exits as the new one starts)."""
    first = DurableFile(tmp_path / "store.sqlite3")
    threading.Timer(0.5, first.close).start()
    second = DurableFile(tmp_path / "store.sqlite3", lock_wait_seconds=10)
    second.close()


def test_a_read_only_opener_sees_what_the_writer_committed(tmp_path):
    """A read-only opener takes no lock, sees every acknowledged write, and writes nothing to the file."""
    path = tmp_path / "store.sqlite3"
    writer = DurableFile(path)
    _mongomock_client(writer)["app"]["items"].insert_many([{"n": n} for n in range(3)])
    reader = DurableFile(path, read_only=True)
    try:
        items = _mongomock_client(reader)["app"]["items"]
        assert items.count_documents({}) == 3
        items.insert_one({"n": 99})  # stays in this process
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM documents").fetchone() == (3,)
    finally:
        reader.close()
        writer.close()


# --- Real server processes ----------------------------------------------------------------------

SERVERS = {
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "watchparty.asgi:application"],
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "watchparty.asgi:application"],
}


def _start_server(kind_args: list[str], env, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, *(arg.format(port=port) for arg in kind_args)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, port


def _wait_live(process: subprocess.Popen, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _manage(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_commands_act_on_the_running_servers_data(tmp_path, server):
    """While a server holds the file, a second server stops with why; read-only commands show the
    server's data; commands that change data refuse and say what to do, and run once it stops."""
    env = _env(tmp_path)
    worker = _worker(env, "write", "--count", "3")
    assert worker.wait(timeout=60) == 0, worker.stderr.read()
    log = tmp_path / "server.log"
    process, port = _start_server(SERVERS[server], env, log)
    try:
        _wait_live(process, port, log)
        second, _ = _start_server(SERVERS[server], {**env, "EMBEDDED_DB_LOCK_WAIT_SECONDS": "1"}, tmp_path / "2.log")
        assert second.wait(timeout=30) != 0
        assert "in use by process" in (tmp_path / "2.log").read_text()

        stats = _manage(env, "db_stats")
        assert stats.returncode == 0, stats.stderr
        assert "parties: 1 document(s)" in stats.stdout and "chat_messages: 3 document(s)" in stats.stdout
        assert _manage(env, "ensure_indexes", "--check").returncode == 0
        assert _manage(env, "end_stale_parties", "--idle", "1m", "--dry-run").returncode == 0
        for command in (
            ["archive_messages", "--older-than", "1m", "--output", str(tmp_path / "a.jsonl.gz")],
            ["end_stale_parties", "--idle", "1m"],
            ["ensure_indexes"],
        ):
            refused = _manage(env, *command)
            assert refused.returncode != 0
            assert "stop the server" in refused.stderr and "MONGODB_URI" in refused.stderr, refused.stderr
    finally:
        _stop(process)
    archived = _manage(env, "archive_messages", "--older-than", "1m", "--output", str(tmp_path / "a.jsonl.gz"))
    assert archived.returncode == 0, archived.stderr


def test_uvicorn_reload_keeps_serving_the_same_file(tmp_path):
    """uvicorn --reload: the new worker waits for the old one's lock instead of refusing, and serves."""
    watched = tmp_path / "watched"
    watched.mkdir()
    env = _env(tmp_path)
    log = tmp_path / "server.log"
    args = [*SERVERS["uvicorn"], "--reload", "--reload-dir", str(watched)]
    process, port = _start_server(args, env, log)
    try:
        _wait_live(process, port, log)
        started = log.read_text().count("Started server process")
        (watched / "changed.py").write_text("x = 1\n")
        deadline = time.monotonic() + 30
        while log.read_text().count("Started server process") <= started and time.monotonic() < deadline:
            time.sleep(0.2)
        _wait_live(process, port, log)
        assert log.read_text().count("Started server process") > started
        assert "Cannot start" not in log.read_text()
    finally:
        _stop(process)
