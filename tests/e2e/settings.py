"""Settings for the server the end-to-end tests start: the project's own settings, plus

- static files collected into a temporary directory (E2E_STATIC_ROOT) instead of the work tree,
  with the test video (tests/e2e/media/) served as /static/e2e/...;
- a fast password hasher, since the tests sign up and log in several users.

Everything else (DEBUG, databases, hosts, limits) comes from the environment as in production.
"""

import os

from watchparty.settings import *  # noqa: F403
from watchparty.settings import BASE_DIR

STATIC_ROOT = os.environ["E2E_STATIC_ROOT"]
STATICFILES_DIRS = [("e2e", BASE_DIR / "tests" / "e2e" / "media")]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
