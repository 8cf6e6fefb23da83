"""Create the bench users and their API tokens in the relational database named by DATABASE_URL
(run with the project's settings, before the server starts; the server then reads the same file).

Every user gets the same password hash (computed once), so ``POST /api/auth/token/`` works for any
of them, while creating 1000+ users takes a second instead of one PBKDF2 hash each. Prints JSON:
``[{"username", "user_id", "token"}, ...]``.

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python bench/make_users.py --count 1000 --password pw
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.tokens import issue_token  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--password", default="bench-password-1")
    args = parser.parse_args()
    password_hash = make_password(args.password)
    names = [f"{args.prefix}{i:05d}" for i in range(args.count)]
    with transaction.atomic():
        existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        User.objects.bulk_create(
            [
                User(username=n, password=password_hash, first_name=f"Bench {n[-5:]}")
                for n in names
                if n not in existing
            ],
            batch_size=500,
        )
        users = list(User.objects.filter(username__in=names).order_by("username"))
        # Tokens are stored as digests: a run cannot read back an earlier run's, so it makes new ones.
        tokens = {u.pk: issue_token(user=u)[1] for u in users}
    json.dump([{"username": u.username, "user_id": str(u.pk), "token": tokens[u.pk]} for u in users], sys.stdout)


if __name__ == "__main__":
    main()
