from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from core.db.commands import open_database_for
from parties.services import TITLE_WORDS_BACKFILL_BATCH_SIZE, party_title_words_backfill

MAX_BATCH_SIZE = 10_000


class Command(BaseCommand):
    help = (
        "Store the title words of parties created before titles were searchable, so that the admin's "
        "party search finds them by title. Only parties without title words are read and written; "
        "safe to run again (and while the server runs, on MongoDB). Acts on MONGODB_URI / MONGODB_DB."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=TITLE_WORDS_BACKFILL_BATCH_SIZE,
            metavar="N",
            help=f"Parties per batch (1-{MAX_BATCH_SIZE}, default {TITLE_WORDS_BACKFILL_BATCH_SIZE}); one progress line each.",
        )

    def handle(self, *args, batch_size: int, **options):
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}.")
        open_database_for(self, changes_data=True)
        try:
            filled = party_title_words_backfill(batch_size=batch_size, on_batch=self._progress)
        except PyMongoError as exc:
            raise CommandError(
                f"The backfill stopped: {exc}. Parties already filled stay filled; run the command again to finish."
            ) from None
        noun = "party" if filled == 1 else "parties"
        self.stdout.write(self.style.SUCCESS(f"{filled} {noun} given title words."))

    def _progress(self, read: int, filled: int) -> None:
        self.stderr.write(f"read {read} part{'y' if read == 1 else 'ies'} without title words: {filled} filled")
