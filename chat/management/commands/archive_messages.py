import os

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from chat.archive import ArchiveError
from chat.services import ARCHIVE_BATCH_SIZE, ArchiveProgress, message_archive
from core.db.commands import open_database_for
from core.durations import format_duration, parse_duration
from core.timeutil import isoformat_z

MAX_BATCH_SIZE = 10_000


class Command(BaseCommand):
    help = (
        "Export chat messages older than --older-than that are not archived yet to --output, as "
        "gzipped JSON lines (one message per line: the API's Message plus archived_at), and mark "
        "them archived. An existing file is appended to, never replaced: running again exports "
        "nothing twice, and after an interruption running again with the same --output finishes the "
        "job. With --delete, also remove archived messages once they are read back from the file. "
        "Acts on MONGODB_URI / MONGODB_DB."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="DURATION",
            help="Age of the messages to archive: a number and a unit, such as 90m, 6h, 7d or 2w.",
        )
        parser.add_argument(
            "--output",
            required=True,
            metavar="FILE",
            help="The archive (for example archive.jsonl.gz). Appended to when it exists.",
        )
        parser.add_argument(
            "--delete",
            action="store_true",
            help=(
                "Delete the archived messages found in FILE (this run's and an earlier run's to the same "
                "file). Only messages read back from the file and marked archived are deleted."
            ),
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=ARCHIVE_BATCH_SIZE,
            metavar="N",
            help=f"Messages per batch (1-{MAX_BATCH_SIZE}, default {ARCHIVE_BATCH_SIZE}); one progress line each.",
        )

    def handle(self, *args, older_than: str, output: str, delete: bool, batch_size: int, **options):
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}.")
        self._delete = delete
        open_database_for(self, changes_data=True)
        try:
            progress = message_archive(
                older_than=age, output=output, delete=delete, batch_size=batch_size, on_batch=self._progress
            )
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        except (PyMongoError, OSError) as exc:
            raise CommandError(
                f"Archiving stopped: {exc}. Nothing is lost: run the same command again, with the same "
                "--output, to finish."
            ) from None
        if not os.path.exists(output):  # nothing to archive: chat.archive leaves no empty file
            self.stdout.write(
                self.style.SUCCESS(
                    f"Nothing to archive: no messages older than {format_duration(age)} "
                    f"(before {isoformat_z(progress.cutoff)}) are left unarchived; {output} was not written."
                )
            )
            return
        if progress.discarded_bytes:
            self.stderr.write(
                self.style.WARNING(
                    f"Cut {progress.discarded_bytes} bytes of an incomplete batch off the end of {output} "
                    "(an interrupted run); those messages were exported again."
                )
            )
        if progress.not_marked:
            self.stderr.write(
                self.style.WARNING(
                    f"{progress.not_marked} exported message(s) were deleted or archived by someone else "
                    "before they could be marked."
                )
            )
        summary = (
            f"Archived messages older than {format_duration(age)} (before {isoformat_z(progress.cutoff)}) "
            f"to {output}: {progress.written} written, {progress.recovered} already in the file, "
            f"{progress.marked} marked archived"
        )
        if delete:
            summary += f", {progress.deleted} deleted"
        self.stdout.write(self.style.SUCCESS(summary + "."))

    def _progress(self, progress: ArchiveProgress) -> None:
        if progress.phase == "deleting":
            self.stderr.write(f"deleting messages already in the file: {progress.deleted} deleted")
            return
        self.stderr.write(
            f"batch {progress.batches}: {progress.read} read, {progress.written} written, "
            f"{progress.recovered} already in the file, {progress.marked} marked"
            + (f", {progress.deleted} deleted" if self._delete else "")
            + f" (up to {isoformat_z(progress.last_timestamp)})"
        )
