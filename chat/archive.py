"""The file ``manage.py archive_messages`` writes: gzipped JSON lines, one message per line.

Each batch is appended as a gzip member of its own, then flushed to disk and read back: a file of
several members is one valid gzip stream (``gzip.open`` and ``zcat`` read it whole), so a later run
appends to the same file instead of replacing it. Opening an existing file reads the id of every
message already in it, so that a run interrupted between writing a batch and marking it archived
is finished without writing the batch twice. A batch cut short by a crash (an incomplete last
member) is cut off again: its messages were never marked, so the next run exports them again.

Only plain files and bytes here; the database is the service's business.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import zlib
from typing import Any, Iterator

_CHUNK = 1 << 20
# A damaged tail longer than this is not cut off automatically (a crash leaves at most one batch).
MAX_REPAIR_BYTES = 64 << 20


class ArchiveError(Exception):
    """The archive file cannot be used or did not read back as written. Nothing was marked."""


class _Damage(Exception):
    def __init__(self, offset: int, reason: str):
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def encode_lines(records: list[dict[str, Any]]) -> bytes:
    """One compact JSON object per line (a newline inside a message is escaped by JSON)."""
    return "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records).encode(
        "utf-8"
    )


def _members(read, size: int) -> Iterator[tuple[int, int, bytes]]:
    """``(start, end, uncompressed)`` for each complete gzip member from the start of the file.
    Raises _Damage at the first byte that does not begin a complete member."""
    start, position, pending = 0, 0, b""
    while start < size:
        decompressor = zlib.decompressobj(wbits=31)  # one gzip member, header and CRC checked
        parts: list[bytes] = []
        consumed = 0
        while not decompressor.eof:
            if not pending:
                if position >= size:
                    raise _Damage(start, "the last batch is incomplete")
                pending = read(min(_CHUNK, size - position), position)
                if not pending:
                    raise _Damage(start, "the last batch is incomplete")
                position += len(pending)
            try:
                parts.append(decompressor.decompress(pending))
            except zlib.error as exc:
                raise _Damage(start, f"not gzip data ({exc})") from None
            consumed += len(pending) - len(decompressor.unused_data)
            pending = decompressor.unused_data
        yield start, start + consumed, b"".join(parts)
        start += consumed


def _ids_in(payload: bytes, where: str) -> dict[str, str]:
    """``{message id: archived_at}`` of every line of one member."""
    ids: dict[str, str] = {}
    for number, line in enumerate(payload.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            message_id, archived_at = record["id"], record["archived_at"]
        except (ValueError, TypeError, KeyError):
            raise ArchiveError(f"{where}, line {number}, is not an archived message.") from None
        if not isinstance(message_id, str) or not isinstance(archived_at, str):
            raise ArchiveError(f"{where}, line {number}, is not an archived message.")
        ids[message_id] = archived_at
    return ids


def _is_cut_short(tail: bytes) -> bool:
    """True when ``tail`` is what a crash while appending a batch leaves: the beginning of one gzip
    member, perhaps followed by zero bytes (a file system that lost unsynced blocks), or zeros
    alone. A complete member, or bytes that are not gzip at all, are something else."""
    data = tail.rstrip(b"\0")
    if not data:
        return True
    decompressor = zlib.decompressobj(wbits=31)
    try:
        decompressor.decompress(data)
    except zlib.error:
        return False
    return not decompressor.eof


class ArchiveFile:
    """An archive open for appending, locked against a second run writing to it.

    ``ids`` maps the id of every message in the file (read at open, then each batch as read back
    after writing it) to its ``archived_at``; only ids in it count as verified.
    """

    def __init__(self, path: str):
        self.path = path
        self.ids: dict[str, str] = {}
        self.discarded_bytes = 0
        self.created = False
        self._fd: int | None = None

    # -- opening ---------------------------------------------------------------------------------

    def __enter__(self) -> "ArchiveFile":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise ArchiveError(f"The folder {directory} does not exist.")
        if os.path.isdir(self.path):
            raise ArchiveError(f"{self.path} is a folder, not a file.")
        self.created = not os.path.exists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise ArchiveError(f"Cannot open {self.path}: {exc.strerror}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ArchiveError(f"Another archive_messages run is writing {self.path}.") from None
            raise
        self._fd = fd
        try:
            if self.created:
                _fsync_directory(directory)  # the new file's name survives a crash too
            self._load()
        except BaseException:
            self.close()
            raise

    def _read(self, length: int, offset: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def _load(self) -> None:
        size = os.fstat(self._fd).st_size
        try:
            for start, _end, payload in _members(self._read, size):
                self.ids.update(_ids_in(payload, f"{self.path} (batch at byte {start})"))
        except _Damage as damage:
            self._repair(damage, size)

    def _repair(self, damage: _Damage, size: int) -> None:
        """Cut off a batch that a crash left incomplete at the end; refuse any other damage."""
        tail = size - damage.offset
        if tail > MAX_REPAIR_BYTES or not _is_cut_short(self._read(tail, damage.offset)):
            if damage.offset == 0:
                raise ArchiveError(f"{self.path} exists and is not a gzip archive; choose another --output.")
            raise ArchiveError(
                f"{self.path} is damaged at byte {damage.offset} ({damage.reason}); not repairing it "
                "automatically: choose another --output."
            )
        os.ftruncate(self._fd, damage.offset)
        os.fsync(self._fd)
        self.discarded_bytes = tail

    def close(self) -> None:
        if self._fd is not None:
            try:
                if self.created and os.fstat(self._fd).st_size == 0:
                    # Opening made the file and nothing went in: an empty file is no gzip archive
                    # (zcat refuses it), so none is left behind. Removed while still locked.
                    os.unlink(self.path)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def append(self, records: list[dict[str, Any]]) -> set[str]:
        """Append the records as one gzip member, flush it to disk, read it back, and return the
        ids found in what was read (added to ``ids``). Raises ArchiveError when it reads back
        other than written."""
        if self._fd is None:
            raise ArchiveError("The archive is not open.")
        expected = {record["id"] for record in records}
        data = gzip.compress(encode_lines(records))
        start = os.fstat(self._fd).st_size
        self._write(data)
        os.fsync(self._fd)
        back = self._read(len(data), start)
        try:
            found = _ids_in(gzip.decompress(back), f"{self.path} (batch at byte {start})")
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"The batch just written to {self.path} does not read back: {exc}") from None
        if back != data or set(found) != expected:
            raise ArchiveError(f"The batch just written to {self.path} does not read back as written.")
        self.ids.update(found)
        return set(found)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the file's own data is synced regardless
    finally:
        os.close(fd)


def read_archive(path: str) -> list[dict[str, Any]]:
    """Every record in an archive file, in file order (for operators' scripts and tests)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
