import json

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from core.db.client import embedded_database_description, open_embedded_for_command
from core.timeutil import isoformat_z
from staff.dbstats import collection_stats, database_summary


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "-"  # pragma: no cover


class Command(BaseCommand):
    help = (
        "Show each MongoDB collection's document count, data, storage and index sizes, and how often "
        "each index was used, where the server reports them ($collStats, $indexStats). The embedded "
        "database reports counts and index names only. Acts on MONGODB_URI / MONGODB_DB; changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print one JSON document instead of text."
        )

    def handle(self, *args, as_json: bool = False, **options):
        try:
            open_embedded_for_command(changes_data=False)
            summary = database_summary()
            stats = collection_stats()
        except PyMongoError as exc:
            raise CommandError(f"MongoDB did not answer: {exc}") from None
        if as_json:
            self._print_json(summary, stats)
            return
        self.stdout.write(
            f"Database {summary['database']}" + (f" ({embedded_database_description()})" if summary["embedded"] else "")
        )
        for entry in stats:
            self.stdout.write("")
            self.stdout.write(
                f"{entry.name}: {entry.documents} document(s), data {_size(entry.size_bytes)}, "
                f"storage {_size(entry.storage_bytes)}, indexes {_size(entry.index_bytes)}"
            )
            for index in entry.indexes:
                keys = ", ".join(f"{name} {direction}" for name, direction in index.keys)
                line = f"  {index.name} ({keys})"
                if index.size_bytes is not None:
                    line += f": size {_size(index.size_bytes)}"
                if index.ops is not None:
                    line += f", {index.ops} use(s) since {isoformat_z(index.since)}"
                self.stdout.write(line)
            for reason in entry.unavailable:
                self.stdout.write(f"  unavailable: {reason}")
        if summary["embedded"]:
            self.stdout.write("")
            self.stdout.write("Sizes and index use are unavailable on the embedded database.")

    def _print_json(self, summary, stats) -> None:
        def plain(value):
            if hasattr(value, "isoformat"):
                return isoformat_z(value)
            raise TypeError(f"{type(value).__name__} is not JSON serializable")

        document = {**summary, "collections": [entry.as_dict() for entry in stats]}
        self.stdout.write(json.dumps(document, default=plain, indent=2, ensure_ascii=False))
