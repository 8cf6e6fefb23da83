from core.realtime.origin import allowed_origins


def scope(scheme: str, *headers: tuple[bytes, bytes]) -> dict:
    return {
        "type": "websocket",
        "scheme": scheme,
        "path": "/ws/parties/x/",
        "headers": [(b"host", b"testserver"), *headers],
    }


def test_a_secure_handshake_allows_the_https_origin_only(settings):
    """Over wss the site's origin is https://host; over ws it is http://host."""
    settings.CSRF_TRUSTED_ORIGINS = []
    assert allowed_origins(scope("wss")) == ["https://testserver"]
    assert allowed_origins(scope("ws")) == ["http://testserver"]


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings):
    """With SECURE_PROXY_SSL_HEADER, a handshake the proxy marks as https allows the https origin, as Django's CSRF check does."""
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert allowed_origins(scope("ws", (b"x-forwarded-proto", b"https"))) == ["https://testserver"]
    assert allowed_origins(scope("ws")) == ["http://testserver"]
