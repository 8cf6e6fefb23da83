"""Print, as JSON, the client_ids starting with PREFIX stored in one embedded database file, read
without its lock as the read-only manage.py commands do (the server may still be running):
``EMBEDDED_DB_PATH=FILE python bench/stored_client_ids.py PREFIX``. Used by bench/run.py for the
``:wN`` targets, whose workers each store into a copy of their own (bench/app_workers_asgi.py)."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from core.db.client import get_db, open_embedded_for_command  # noqa: E402

open_embedded_for_command(changes_data=False)
prefix = sys.argv[1]
ids = get_db()["chat_messages"].distinct("client_id", {"client_id": {"$regex": "^" + prefix}})
print(json.dumps(sorted(ids)))
assert settings.EMBEDDED_DB_PATH == os.environ["EMBEDDED_DB_PATH"]
