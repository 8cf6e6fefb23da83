from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from core.db.commands import open_database_for
from core.durations import format_duration, parse_duration
from core.timeutil import isoformat_z
from staff.operations import StaleSweepProgress, party_end_stale


class Command(BaseCommand):
    help = (
        "End every active party with no activity for --idle: nobody joined, left, played or paused, and "
        "no chat message was sent in that time. Each ended party's sockets get party.ended and close. "
        "A party that becomes active while the sweep runs is left alone. Acts on MONGODB_URI / MONGODB_DB."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--idle",
            required=True,
            metavar="DURATION",
            help="How long a party must have been idle to be ended: a number and a unit, such as 90m, 6h, 7d or 2w.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only list the parties that would be ended; change nothing and send nothing.",
        )

    def handle(self, *args, idle: str, dry_run: bool, **options):
        try:
            idle_for = parse_duration(idle)
        except ValueError as exc:
            raise CommandError(f"--idle: {exc}") from None
        open_database_for(self, changes_data=not dry_run)
        self._ended_parties: list = []
        try:
            ended = party_end_stale(idle=idle_for, dry_run=dry_run, on_batch=self._progress)
        except PyMongoError as exc:
            raise CommandError(
                f"The sweep stopped: {exc}. Parties already ended stay ended; run the command again to finish."
            ) from None
        verb = "would end" if dry_run else "ended"
        # Operators think in room codes and titles; the id stays for the admin's URLs and the log.
        for party in self._ended_parties:
            title = party.content_title or party.content_id
            self.stdout.write(f'{verb} {party.room_code} "{title}" hosted by {party.host_name} ({party.id})')
        summary = f"{len(ended)} part{'y' if len(ended) == 1 else 'ies'} idle for {format_duration(idle_for)} {verb}"
        if dry_run:
            summary += " (dry run: nothing changed)"
        self.stdout.write(self.style.SUCCESS(summary + "."))

    def _progress(self, progress: StaleSweepProgress) -> None:
        self._ended_parties = progress.ended_parties
        self.stderr.write(
            f"checked {progress.checked} idle part{'y' if progress.checked == 1 else 'ies'} "
            f"(no activity since {isoformat_z(progress.cutoff)}): {len(progress.ended)} to end, "
            f"{progress.kept_by_chat} kept by a recent chat message, {progress.active_again} active again"
        )
