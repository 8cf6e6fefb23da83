import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

PASSWORD = "pw-for-tests-1"
GENEROUS = (1000, 300)


@pytest.fixture
def limits(settings):
    """Small limits, one at a time: each test tightens the one it is about."""
    settings.LOGIN_RATE_LIMIT_IP = GENEROUS
    settings.LOGIN_RATE_LIMIT_USERNAME = GENEROUS
    settings.LOGIN_RATE_LIMIT_ACCOUNT = GENEROUS
    settings.SIGNUP_RATE_LIMIT = GENEROUS
    return settings


def login_page(username, password, ip="10.0.0.1", client=None, **headers):
    client = client or Client()
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def token(username, password, ip="10.0.0.1", **headers):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers
    )


def admin_login(username, password, ip="10.0.0.1", client=None):
    client = client or Client()
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )


def assert_page_refused(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert b"Too many" in response.content


def assert_api_refused(response):
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited" and body["retry_after"] >= 1
    assert int(response["Retry-After"]) == body["retry_after"]
    assert "token" not in body


def test_login_page_limits_a_username_across_addresses(make_user, limits):
    """After the per-username ceiling of wrong passwords from all addresses, even the right password is refused with 429, from any address."""
    limits.LOGIN_RATE_LIMIT_ACCOUNT = (3, 300)
    make_user(username="victim")
    for attempt in range(3):
        assert login_page("victim", "wrong", ip=f"10.0.1.{attempt}").status_code == 200
    client = Client()
    assert_page_refused(login_page("victim", PASSWORD, ip="10.0.2.1", client=client))
    assert "_auth_user_id" not in client.session
    assert login_page("someone-else", "wrong", ip="10.0.2.1").status_code == 200  # other accounts are unaffected


def test_login_page_limits_an_address_across_usernames(make_user, limits):
    """After the per-address limit, a login from that address is refused even with the right password."""
    limits.LOGIN_RATE_LIMIT_IP = (3, 300)
    make_user(username="carol")
    for attempt in range(3):
        assert login_page(f"guess{attempt}", "wrong").status_code == 200
    assert_page_refused(login_page("carol", PASSWORD))
    assert login_page("carol", PASSWORD, ip="10.9.9.9").status_code == 302  # another client is unaffected


def test_username_spellings_share_one_budget(make_user, limits):
    """Changing the case of the username does not buy more guesses."""
    limits.LOGIN_RATE_LIMIT_ACCOUNT = (2, 300)
    make_user(username="victim")
    login_page("victim", "wrong", ip="10.0.0.1")
    login_page("VICTIM", "wrong", ip="10.0.0.2")
    assert_page_refused(login_page("Victim", PASSWORD, ip="10.0.0.3"))


def test_token_endpoint_limits_a_username(make_user, limits):
    """POST /api/auth/token/ refuses with the JSON 429 after the per-username ceiling, right password included."""
    limits.LOGIN_RATE_LIMIT_ACCOUNT = (3, 300)
    make_user(username="scripter")
    for attempt in range(3):
        assert token("scripter", "wrong", ip=f"10.0.1.{attempt}").status_code == 400
    assert_api_refused(token("scripter", PASSWORD, ip="10.0.2.1"))


def test_token_endpoint_limits_an_address(make_user, limits):
    """POST /api/auth/token/ refuses with the JSON 429 after the per-address limit, right password included."""
    limits.LOGIN_RATE_LIMIT_IP = (3, 300)
    make_user(username="scripter")
    for attempt in range(3):
        assert token(f"guess{attempt}", "wrong").status_code == 400
    assert_api_refused(token("scripter", PASSWORD))
    assert token("scripter", PASSWORD, ip="10.9.9.9").status_code == 200


def test_admin_login_is_limited(make_user, limits):
    """The admin login refuses with 429 after the per-username ceiling, and the staff member is not logged in."""
    limits.LOGIN_RATE_LIMIT_ACCOUNT = (3, 300)
    make_user(username="boss", is_staff=True, is_superuser=True)
    for attempt in range(3):
        assert admin_login("boss", "wrong", ip=f"10.0.1.{attempt}").status_code == 200
    client = Client()
    assert_page_refused(admin_login("boss", PASSWORD, ip="10.0.2.1", client=client))
    assert client.get("/admin/").status_code == 302  # still sent to the login


def test_guesses_anywhere_share_one_budget(make_user, limits):
    """Guesses at the login page, the token endpoint and the admin login count against one limit."""
    limits.LOGIN_RATE_LIMIT_USERNAME = (3, 300)
    make_user(username="boss", is_staff=True)
    login_page("boss", "wrong")
    token("boss", "wrong")
    admin_login("boss", "wrong")
    assert_api_refused(token("boss", PASSWORD))


def test_forty_people_behind_one_address_all_log_in(make_user, settings):
    """With the default limits, 40 right-password logins from one address within a minute all succeed: only failures count."""
    users = [make_user(username=f"pupil{i}") for i in range(40)]
    statuses = [token(user.username, PASSWORD, ip="10.40.0.1").status_code for user in users[:20]]
    statuses += [login_page(user.username, PASSWORD, ip="10.40.0.1").status_code for user in users[20:]]
    assert statuses == [200] * 20 + [302] * 20


def test_successful_logins_leave_the_failure_budgets_untouched(make_user, limits):
    """Logins that succeed count against no limit: after many, the address still has its whole budget of wrong passwords."""
    limits.LOGIN_RATE_LIMIT_IP = (3, 300)
    limits.LOGIN_RATE_LIMIT_USERNAME = (3, 300)
    make_user(username="regular")
    for _ in range(5):
        assert token("regular", PASSWORD).status_code == 200
    for _ in range(2):
        assert token("regular", "wrong").status_code == 400
    assert token("regular", PASSWORD).status_code == 200
    assert token("regular", "wrong").status_code == 400
    assert_api_refused(token("regular", PASSWORD))


def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(make_user, settings):
    """With the default limits, a stranger's wrong passwords for a username lock out the stranger's address, not the owner logging in from theirs."""
    make_user(username="victim")
    stranger = [token("victim", f"guess{i}", ip="203.0.113.9").status_code for i in range(11)]
    assert stranger[:10] == [400] * 10 and stranger[10] == 429
    assert token("victim", PASSWORD, ip="198.51.100.7").status_code == 200
    assert login_page("victim", PASSWORD, ip="198.51.100.7").status_code == 302


def signup(username, ip="10.0.0.1"):
    return Client().post(
        "/accounts/signup/",
        {"username": username, "password1": "a-Long-pass-123", "password2": "a-Long-pass-123"},
        REMOTE_ADDR=ip,
    )


def test_signup_is_limited_per_address(db, limits):
    """Past the per-address sign-up limit the form is refused with 429 and no account is created."""
    limits.SIGNUP_RATE_LIMIT = (2, 3600)
    assert signup("first").status_code == 302
    assert signup("second").status_code == 302
    assert_page_refused(signup("third"))
    assert not User.objects.filter(username="third").exists()
    assert signup("third", ip="10.9.9.9").status_code == 302


def test_forwarded_for_is_ignored_by_default(make_user, limits):
    """Without TRUSTED_PROXY_COUNT, a made-up X-Forwarded-For does not give a fresh address per try."""
    limits.LOGIN_RATE_LIMIT_IP = (3, 300)
    make_user(username="carol")
    for attempt in range(3):
        token(f"guess{attempt}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}")
    assert_api_refused(token("carol", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200"))


def test_trusted_proxy_address_is_used_and_client_entries_are_not(make_user, limits):
    """With one trusted proxy, the address it appended counts; entries the client wrote before it do not."""
    limits.LOGIN_RATE_LIMIT_IP = (3, 300)
    limits.TRUSTED_PROXY_COUNT = 1
    make_user(username="carol")
    for attempt in range(3):  # one attacker behind the proxy, inventing a new first entry each time
        token(f"guess{attempt}", "wrong", ip="172.16.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}, 203.0.113.7")
    assert_api_refused(token("carol", PASSWORD, ip="172.16.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7"))
    # Another client behind the same proxy has its own budget.
    assert token("carol", PASSWORD, ip="172.16.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


def test_ipv6_addresses_count_by_block(make_user, limits):
    """Addresses in one IPv6 /64 share a budget: rotating the host part buys no guesses."""
    limits.LOGIN_RATE_LIMIT_IP = (2, 300)
    make_user(username="carol")
    token("guess", "wrong", ip="2001:db8::1")
    token("guess", "wrong", ip="2001:db8::2")
    assert_api_refused(token("carol", PASSWORD, ip="2001:db8::ffff"))


@pytest.mark.redis
def test_login_limit_is_shared_through_redis(make_user, limits, redis_url):
    """With REDIS_URL set the login limit lives in Redis (so every server process shares it)."""
    import redis

    limits.LOGIN_RATE_LIMIT_USERNAME = (2, 300)
    make_user(username="scripter")
    token("scripter", "wrong")
    token("scripter", "wrong")
    assert_api_refused(token("scripter", PASSWORD))
    assert redis.Redis.from_url(redis_url).keys("watchparty:rl:login:user:*")
