"""Helpers shared by the test packages."""

from __future__ import annotations

import os
import socket

import pytest


def unavailable(reason: str) -> None:
    """Skip for want of a service or tool, with the reason; under CI=true fail instead, since CI
    must run every test."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires this test to run", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
