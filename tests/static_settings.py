"""The project's settings plus one static folder of a test's own (TEST_STATIC_DIR, served under
/static/t/), for files too large to keep in the repository."""

import os

from watchparty.settings import *  # noqa: F403

STATICFILES_DIRS = [("t", os.environ["TEST_STATIC_DIR"])]
