"""Helpers shared by the test packages."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

# The rule for a test that cannot have a service or tool it needs (README "Tests"):
# - one that CI provides (.ci/run starts Redis and installs Chromium; Playwright is pinned in
#   requirements.txt): skip with the reason, but fail under CI=true, since CI must run every test;
# - a real MongoDB server, which neither CI nor this machine has: those tests run where
#   MONGODB_TEST_URI names one, and skip elsewhere, under CI=true too.
PROVIDED_BY_CI = frozenset({"redis", "redis-server", "playwright", "chromium", "prometheus"})
ONLY_WHERE_CONFIGURED = frozenset({"mongodb"})


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str, *, service: str, module_level: bool = False) -> NoReturn:
    """Skip for want of ``service``, with the reason; under CI=true fail instead when CI provides
    that service. ``module_level`` for a call at import time."""
    if service not in PROVIDED_BY_CI | ONLY_WHERE_CONFIGURED:
        raise ValueError(f"Unknown service {service!r}: add it to tests/support.py with its CI rule")
    if service in PROVIDED_BY_CI and under_ci():
        pytest.fail(f"{reason}; CI=true requires this test to run", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def mongodb_server_uri() -> str:
    """MONGODB_TEST_URI, for a test that needs a real MongoDB server; skips when it is not set."""
    uri = os.environ.get("MONGODB_TEST_URI", "")
    if not uri:
        unavailable("needs a real MongoDB server (set MONGODB_TEST_URI)", service="mongodb")
    return uri


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_token(user) -> str:
    """A new API token for ``user``, as ``POST /api/auth/token/`` issues one."""
    from accounts.tokens import issue_token

    return issue_token(user=user)[1]
