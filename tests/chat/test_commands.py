import gzip
import json
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pymongo.errors import AutoReconnect

from chat import repository
from chat.archive import ArchiveFile
from chat.repository import NewMessage
from core.timeutil import utcnow

MESSAGE_FIELDS = {
    "id",
    "party_id",
    "user_id",
    "user_name",
    "message",
    "message_type",
    "source_language",
    "translations",
    "reactions",
    "client_id",
    "timestamp",
    "edited_at",
    "reply_to",
    "mentions",
    "at",
    "archived_at",
}
PARTY = "65a1b2c3d4e5f60718293a4b"


def seed(count, *, days_old=10, party_id=PARTY, same_time_every=3):
    """Messages stored ``days_old`` ago, oldest first; every few share a timestamp (ties by id)."""
    base = utcnow() - timedelta(days=days_old)
    return [
        repository.insert_message(
            NewMessage(
                party_id=party_id,
                user_id="1",
                user_name="Alice",
                message=f"message {i}\nline two",
                message_type="text",
                client_id=f"c{days_old}-{i}",
                timestamp=base + timedelta(seconds=i // same_time_every),
            )
        )
        for i in range(count)
    ]


def archive(path, *args, older_than="7d"):
    call_command("archive_messages", "--older-than", older_than, "--output", str(path), *args)


def file_ids(path):
    """Every message id in the file, all gzip members, in file order."""
    if not path.exists():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["id"] for line in handle]


def exists(message):
    return repository.get_message(message.party_id, message.id) is not None


def unarchived_old():
    return repository.list_unarchived_before(utcnow() - timedelta(days=7), after=None, limit=10_000)


def test_archive_exports_old_messages_once_each_and_marks_them(tmp_path, capsys):
    """Old messages land in the file oldest first in the public Message shape plus archived_at;
    recent ones stay out, and archived messages are still in the database and its history."""
    old, recent = seed(7), seed(2, days_old=1)
    path = tmp_path / "archive.jsonl.gz"
    archive(path, "--batch-size", "3")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    assert [r["id"] for r in records] == [m.id for m in old]
    assert set(records[0]) == MESSAGE_FIELDS
    assert records[0]["timestamp"].endswith("Z") and records[0]["archived_at"].endswith("Z")
    assert records[0]["message"] == "message 0\nline two"
    assert unarchived_old() == []
    assert all(exists(m) for m in old + recent)
    captured = capsys.readouterr()
    assert "7 written" in captured.out
    assert "batch 3:" in captured.err  # one progress line per batch


def test_nothing_to_archive_writes_no_file_and_says_so(tmp_path, capsys):
    """With no message old enough, no (empty, un-gzippable) file is left, and the command says nothing was archived."""
    seed(2, days_old=1)
    path = tmp_path / "archive.jsonl.gz"
    archive(path)
    assert not path.exists()
    assert "Nothing to archive" in capsys.readouterr().out


def test_nothing_new_leaves_an_existing_archive_as_it_was(tmp_path):
    """A second run with nothing new keeps the file from the first, still readable by gzip."""
    old = seed(3)
    path = tmp_path / "archive.jsonl.gz"
    archive(path)
    content = path.read_bytes()
    archive(path)
    assert path.read_bytes() == content
    assert file_ids(path) == [m.id for m in old]


def test_running_twice_exports_nothing_twice(tmp_path):
    """A second run, to the same file or another, exports nothing already exported; new old
    messages are appended to the same file."""
    first = seed(4)
    path, other = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    archive(path, "--batch-size", "2")
    archive(path, "--batch-size", "2")
    archive(other)
    assert file_ids(path) == [m.id for m in first]
    assert file_ids(other) == []
    more = seed(3, days_old=9)
    archive(path)
    assert Counter(file_ids(path)) == Counter(m.id for m in first + more)
    assert max(Counter(file_ids(path)).values()) == 1


def test_interrupted_between_writing_and_marking_then_run_again(tmp_path, monkeypatch):
    """A run stopped after a batch reached the file but before it was marked loses nothing: the
    next run marks that batch without writing it again, and every message is in the file once."""
    messages = seed(10)
    path = tmp_path / "archive.jsonl.gz"
    real_mark = repository.mark_archived
    calls = []

    def mark_then_fail(ids, at):
        calls.append(ids)
        if len(calls) == 2:
            raise AutoReconnect("connection lost")
        return real_mark(ids, at)

    monkeypatch.setattr(repository, "mark_archived", mark_then_fail)
    with pytest.raises(CommandError, match="run the same command again"):
        archive(path, "--batch-size", "4", "--delete")
    monkeypatch.setattr(repository, "mark_archived", real_mark)
    assert len(file_ids(path)) == 8  # two batches written, only the first marked
    # Nothing that is not both in the file and marked was deleted.
    assert all(exists(m) for m in messages[4:])

    archive(path, "--batch-size", "4", "--delete")
    assert file_ids(path) == [m.id for m in messages]
    assert not any(exists(m) for m in messages)
    assert unarchived_old() == []


def test_interrupted_while_writing_then_run_again(tmp_path, monkeypatch, capsys):
    """A run stopped half-way through writing a batch leaves nothing unexported deleted; the next
    run cuts the incomplete batch off, exports it again, and the file reads whole."""
    messages = seed(9)
    path = tmp_path / "archive.jsonl.gz"
    real_write = ArchiveFile._write
    writes = []

    def write_half_then_fail(self, data):
        writes.append(data)
        if len(writes) == 2:
            real_write(self, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(ArchiveFile, "_write", write_half_then_fail)
    with pytest.raises(CommandError, match="Nothing is lost"):
        archive(path, "--batch-size", "3", "--delete")
    monkeypatch.setattr(ArchiveFile, "_write", real_write)
    assert [exists(m) for m in messages] == [False] * 3 + [True] * 6
    with pytest.raises(EOFError):
        file_ids(path)  # the half-written batch
    capsys.readouterr()

    archive(path, "--batch-size", "3", "--delete")
    assert "incomplete batch" in capsys.readouterr().err
    assert file_ids(path) == [m.id for m in messages]
    assert not any(exists(m) for m in messages)


def test_delete_removes_only_messages_verified_in_the_file(tmp_path):
    """--delete never removes a message that is missing from the file, even one marked archived,
    nor one too recent to archive."""
    messages, recent = seed(4), seed(1, days_old=1)
    marked_elsewhere = messages[1]
    repository.mark_archived([marked_elsewhere.id], utcnow())
    path = tmp_path / "archive.jsonl.gz"
    archive(path, "--delete")
    assert file_ids(path) == [m.id for m in messages if m is not marked_elsewhere]
    assert exists(marked_elsewhere) and exists(recent[0])
    assert not any(exists(m) for m in messages if m is not marked_elsewhere)


def test_delete_on_a_later_run_removes_what_the_file_already_holds(tmp_path, capsys):
    """Archive first, check the file, then --delete on the same file removes those messages
    without writing them again."""
    messages = seed(5)
    path = tmp_path / "archive.jsonl.gz"
    archive(path)
    assert all(exists(m) for m in messages)
    capsys.readouterr()
    archive(path, "--delete", "--batch-size", "2")
    assert file_ids(path) == [m.id for m in messages]
    assert not any(exists(m) for m in messages)
    assert "5 deleted" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["7", "7x", "0d", "-1d", "", "d", "1.5d", "999999999w"])
def test_bad_older_than_is_refused(tmp_path, value):
    """--older-than must be a positive number with a unit (90m, 6h, 7d, 2w); else nothing happens."""
    seed(2)
    path = tmp_path / "archive.jsonl.gz"
    with pytest.raises(CommandError, match="--older-than"):
        archive(path, older_than=value)
    assert not path.exists() and len(unarchived_old()) == 2


def test_bad_arguments_are_refused(tmp_path):
    """A batch size out of range, a missing folder, or an existing file that is not an archive is
    refused with a message, and nothing is archived."""
    seed(2)
    with pytest.raises(CommandError, match="--batch-size"):
        archive(tmp_path / "a.gz", "--batch-size", "0")
    with pytest.raises(CommandError, match="does not exist"):
        archive(tmp_path / "missing" / "a.gz")
    not_gzip = tmp_path / "notes.txt"
    not_gzip.write_text("keep me\n")
    with pytest.raises(CommandError, match="not a gzip archive"):
        archive(not_gzip)
    assert not_gzip.read_text() == "keep me\n"
    with pytest.raises(CommandError):
        call_command("archive_messages", "--older-than", "7d")  # no --output
    assert len(unarchived_old()) == 2


def test_help_documents_the_options():
    """archive_messages --help names every option."""
    from chat.management.commands.archive_messages import Command

    text = Command().create_parser("manage.py", "archive_messages").format_help()
    for option in ("--older-than", "--output", "--delete", "--batch-size"):
        assert option in text
