from django.core.management.base import BaseCommand, CommandError

from core.db.client import get_db
from core.db.commands import open_database_for
from core.db.indexes import declared_indexes, ensure_indexes, index_differences


class Command(BaseCommand):
    help = (
        "Create the MongoDB indexes the repositories declare, and bring changed ones (such as the "
        "chat TTL) up to date. Idempotent. Acts on MONGODB_URI / MONGODB_DB. With --check, change "
        "nothing: exit non-zero and list the differences when the database's indexes differ."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only compare; exit 1 and name each difference when the indexes differ from the declared ones.",
        )

    def handle(self, *args, check: bool = False, **options):
        open_database_for(self, changes_data=not check)
        db = get_db()
        if check:
            differences = index_differences(db)
            if differences:
                for line in differences:
                    self.stdout.write(f"DIFF {line}")
                raise CommandError(f"{len(differences)} index difference(s) from the declared indexes.")
            self.stdout.write(self.style.SUCCESS(f"All {len(declared_indexes())} declared indexes are in place."))
            return
        actions = ensure_indexes(db)
        for line in actions:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Indexes up to date ({len(actions)} change(s))."))
