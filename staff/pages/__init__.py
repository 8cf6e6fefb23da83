"""The admin site's pages: accounts and API tokens, the database, parties, chat (the order of the
"MongoDB data" links). Loaded by WatchPartyAdminConfig.ready (staff/admin_site.py)."""

from staff.pages import accounts, chat, parties  # noqa: F401 - each registers its pages
