"""What every manage.py command that reads or changes MongoDB data does first."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.db.client import embedded_database_description, open_embedded_for_command, using_embedded_database
from core.db.embedded_store import EmbeddedDatabaseBusy


def open_database_for(command: BaseCommand, *, changes_data: bool, announce: bool = True) -> None:
    """On the embedded database, open its file as the command needs it (read-only, or holding the
    one-writer lock when it changes data) and say on stderr which data it acts on. A running server
    holding the file refuses a command that changes data: a CommandError saying what to do. On
    MongoDB nothing happens."""
    try:
        open_embedded_for_command(changes_data=changes_data)
    except EmbeddedDatabaseBusy as exc:
        raise CommandError(str(exc)) from None
    if announce and using_embedded_database():
        command.stderr.write(f"MONGODB_URI is not set: acting on {embedded_database_description()}.")
