import pytest

from tests.support import mongodb_server_uri, unavailable


@pytest.mark.parametrize("service", ["redis", "redis-server", "playwright", "chromium"])
def test_a_service_ci_provides_fails_under_ci(monkeypatch, service):
    """Without a service CI provides, a test fails under CI=true instead of skipping."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires"):
        unavailable("missing", service=service)


@pytest.mark.parametrize("service", ["redis", "chromium", "mongodb"])
def test_any_missing_service_skips_outside_ci(monkeypatch, service):
    """Outside CI a missing service is a skip with the reason."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing"):
        unavailable("missing", service=service)


def test_a_real_mongodb_server_is_not_required_under_ci(monkeypatch):
    """CI has no MongoDB server: a test that needs one skips there, unless MONGODB_TEST_URI names one."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MONGODB_TEST_URI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="MONGODB_TEST_URI"):
        mongodb_server_uri()
    monkeypatch.setenv("MONGODB_TEST_URI", "mongodb://db.example:27017")
    assert mongodb_server_uri() == "mongodb://db.example:27017"


def test_an_unknown_service_is_a_mistake():
    """Every service needs its CI rule written down; an unknown name is an error, not a silent skip."""
    with pytest.raises(ValueError):
        unavailable("missing", service="cassandra")
