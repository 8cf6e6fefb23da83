"""Settings for Watch Party, read from the environment.

Every service has an embedded default so that a fresh checkout runs with nothing installed:
no MONGODB_URI -> embedded mongomock kept in a SQLite file, no REDIS_URL -> in-memory channel layer and cache,
no DATABASE_URL -> SQLite. See the README's configuration table.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Placeholders this project's own files have shipped: a deployment that kept one signs its
# sessions with a key anyone can read.
KNOWN_PLACEHOLDER_SECRET_KEYS = {"change-me-in-production", "build-only", "django-insecure-local-development-only"}
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off: 50 or more random characters, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    # Only for local development on the embedded defaults.
    SECRET_KEY = "django-insecure-local-development-only"
elif not DEBUG:
    # Django's own rule for a strong key (check --deploy's security.W009), made fatal: a weak key
    # lets anyone forge sessions, password-reset links and signed values.
    from django.core.checks.security.base import (
        SECRET_KEY_INSECURE_PREFIX,
        SECRET_KEY_MIN_LENGTH,
        SECRET_KEY_MIN_UNIQUE_CHARACTERS,
    )

    if (
        SECRET_KEY in KNOWN_PLACEHOLDER_SECRET_KEYS
        or SECRET_KEY.startswith(SECRET_KEY_INSECURE_PREFIX)
        or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is a placeholder or too weak for DEBUG off: use {SECRET_KEY_MIN_LENGTH} or more random "
            "characters, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS (README "Serving over HTTPS"); all off by default, so that plain http://127.0.0.1 works ---
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Health checks come over plain HTTP from inside the deployment (compose, a load balancer).
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# Behind a TLS proxy: "<request.META name>,<value>", e.g. "HTTP_X_FORWARDED_PROTO,https". Only set it
# when that proxy always sets (or strips) the header: otherwise a client could claim HTTPS itself.
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        'SECURE_PROXY_SSL_HEADER must be "<META name>,<value>", e.g. "HTTP_X_FORWARDED_PROTO,https".'
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None

INSTALLED_APPS = [
    "daphne",
    # Before the admin: its templates (admin/base_site.html, admin/login.html) override the admin's.
    "staff",
    # django.contrib.admin, with the staff pages over MongoDB data (staff/admin_site.py).
    "staff.admin_site.WatchPartyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens stored as digests, with expiry and one per device (accounts.tokens).
    "knox",
    "drf_spectacular",
    "channels",
    "accounts",
    "parties",
    "chat",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.http.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Static files straight from the app server (WhiteNoise, streamed under ASGI: core/http/static.py), in
# DEBUG too (watchparty/serve.py): one way of serving,
# with Range requests (206) for the videos a party plays from this site.
MIDDLEWARE.insert(1, "core.http.static.StaticFilesMiddleware")
# In DEBUG, files are found in the apps' static folders as they are now (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

ROOT_URLCONF = "watchparty.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "watchparty.wsgi.application"
ASGI_APPLICATION = "watchparty.asgi.application"

# --- Relational database: Django's own tables (users, sessions, tokens, admin log) ---
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)
    if DATABASE_URL
    # Kept open as with DATABASE_URL: with 0, every WebSocket frame's account check opened the file
    # again (Django closes a connection older than CONN_MAX_AGE before and after each ORM call).
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3", "CONN_MAX_AGE": 60}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- MongoDB: parties and chat messages ---
MONGODB_URI = os.environ.get("MONGODB_URI", "")
MONGODB_DB = os.environ.get("MONGODB_DB", "watchparty")
MONGODB_MAX_POOL_SIZE = env_int("MONGODB_MAX_POOL_SIZE", 100)
MONGODB_MIN_POOL_SIZE = env_int("MONGODB_MIN_POOL_SIZE", 10)
MONGODB_MAX_IDLE_TIME_MS = env_int("MONGODB_MAX_IDLE_TIME_MS", 30_000)
MONGODB_CONNECT_TIMEOUT_MS = env_int("MONGODB_CONNECT_TIMEOUT_MS", 5_000)
MONGODB_SERVER_SELECTION_TIMEOUT_MS = env_int("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 5_000)
# Commands at least this slow are logged (watchparty.mongo.slow) and kept for the admin; negative: off.
MONGODB_SLOW_COMMAND_MS = env_int("MONGODB_SLOW_COMMAND_MS", 100)
# Embedded database only: wait this long before every operation, as a remote server's round trip
# would (a simulation for the bench and tests; docs/performance.md). 0: answer at once.
EMBEDDED_DB_LATENCY_MS = float(os.environ.get("EMBEDDED_DB_LATENCY_MS", "") or 0)
# Embedded database only (no MONGODB_URI): the SQLite file every party and message is written
# through to (docs/embedded-database.md), and how long a starting server waits for another process
# (an exiting uvicorn --reload worker) to release it.
EMBEDDED_DB_PATH = os.environ.get("EMBEDDED_DB_PATH", "") or str(BASE_DIR / "embedded-db.sqlite3")
EMBEDDED_DB_LOCK_WAIT_SECONDS = float(os.environ.get("EMBEDDED_DB_LOCK_WAIT_SECONDS", "") or 10)
# Threads per process for WebSocket calls to services that use only MongoDB and Redis
# (core/realtime/dbcalls.py); keep it at most MONGODB_MAX_POOL_SIZE.
DB_CALL_THREADS = env_int("DB_CALL_THREADS", 16)
# A process reuses the party it read for a socket's chat.send seat check while no change to the
# party has been broadcast since, for at most this long (pub/sub may lose an event: this bounds
# what it costs); 0 reads the party for every message (core/realtime/localgroups.py).
PARTY_SNAPSHOT_SECONDS = float(os.environ.get("PARTY_SNAPSHOT_SECONDS", "") or 2)

# --- Monitoring: /metrics answers a staff session or "Authorization: Bearer <METRICS_TOKEN>" ---
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- Redis: channel layer and rate limits shared by every process ---
REDIS_URL = os.environ.get("REDIS_URL", "")
# Which Redis channel layer: "core" (channels_redis.core.RedisChannelLayer, lists per channel) or
# "pubsub" (channels_redis's RedisPubSubChannelLayer, as core.realtime.channel_layers extends it to
# ride out a Redis outage); docs/performance.md compares them.
_CHANNEL_LAYER_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "core.realtime.channel_layers.RedisPubSubChannelLayer",
}
# The core layer keeps every socket of a process under one Redis list and silently drops group
# messages past this many queued (channels-redis's default is 100: measured losing messages under
# load, docs/performance.md).
CHANNEL_LAYER_CORE_CAPACITY = int(os.environ.get("CHANNEL_LAYER_CORE_CAPACITY", "") or 5000)
# pubsub by default: less CPU per delivery, and no silent drops under load (docs/performance.md).
CHANNEL_LAYER_BACKEND = os.environ.get("CHANNEL_LAYER_BACKEND", "") or "pubsub"
if CHANNEL_LAYER_BACKEND not in {*_CHANNEL_LAYER_BACKENDS, *_CHANNEL_LAYER_BACKENDS.values()}:
    raise ImproperlyConfigured(f"CHANNEL_LAYER_BACKEND must be one of {sorted(_CHANNEL_LAYER_BACKENDS)}.")
_channel_layer_class = _CHANNEL_LAYER_BACKENDS.get(CHANNEL_LAYER_BACKEND, CHANNEL_LAYER_BACKEND)
# The channel layer's Redis servers, comma-separated (default: REDIS_URL alone). With several,
# channels-redis spreads channels and groups over them by a hash of the name (docs/scaling.md): a
# party's group lives on one of them. Rate limits, presence and the cache stay on REDIS_URL.
CHANNEL_LAYER_REDIS_URLS = [
    url.strip() for url in os.environ.get("CHANNEL_LAYER_REDIS_URLS", "").split(",") if url.strip()
] or ([REDIS_URL] if REDIS_URL else [])
if CHANNEL_LAYER_REDIS_URLS and not REDIS_URL:
    raise ImproperlyConfigured("CHANNEL_LAYER_REDIS_URLS needs REDIS_URL too (rate limits and presence live there).")
if len(set(CHANNEL_LAYER_REDIS_URLS)) != len(CHANNEL_LAYER_REDIS_URLS):
    raise ImproperlyConfigured("CHANNEL_LAYER_REDIS_URLS names one Redis twice.")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": _channel_layer_class,
            "CONFIG": {"hosts": CHANNEL_LAYER_REDIS_URLS}
            | (
                {"capacity": CHANNEL_LAYER_CORE_CAPACITY}
                if _channel_layer_class == _CHANNEL_LAYER_BACKENDS["core"]
                else {}
            ),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: revokes the user's API token whenever the password changes (accounts.tokens).
    {"NAME": "accounts.tokens.RevokeTokensOnPasswordChange"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "core.http.storage.StaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that an unauthenticated API call gets 401 with WWW-Authenticate.
        "accounts.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.http.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.http.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# API tokens (PROTOCOL.md "Identity and authentication"; README "Configuration"): each lives
# API_TOKEN_TTL_SECONDS from its last use (renewed at most once every API_TOKEN_RENEW_SECONDS, one
# write), then answers 401 token_expired; at most API_TOKENS_PER_USER live at once per user.
API_TOKEN_TTL_SECONDS = env_int("API_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
API_TOKEN_RENEW_SECONDS = env_int("API_TOKEN_RENEW_SECONDS", 3600)
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 20)
REST_KNOX = {
    "TOKEN_TTL": timedelta(seconds=API_TOKEN_TTL_SECONDS),
    "AUTO_REFRESH": True,
    "MIN_REFRESH_INTERVAL": API_TOKEN_RENEW_SECONDS,
    "AUTH_HEADER_PREFIX": "Token",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Watch Party API",
    "DESCRIPTION": "Watch parties and their chat. The WebSocket protocol is documented in docs/PROTOCOL.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # The health checks and /metrics are plain Django views: core/http/openapi.py adds them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.http.openapi.add_plain_django_endpoints",
    ],
}

# --- Product limits (PROTOCOL.md "Limits"); each one a setting ---
PARTY_MAX_PARTICIPANTS_LIMIT = env_int("PARTY_MAX_PARTICIPANTS_LIMIT", 50)
PARTY_LIST_MAX_LIMIT = 100
PARTY_MAX_ACTIVE_PER_HOST = env_int("PARTY_MAX_ACTIVE_PER_HOST", 5)
# Videos waiting in a party's shared queue (after the one playing); one more is refused (queue_full).
PARTY_QUEUE_MAX_ITEMS = env_int("PARTY_QUEUE_MAX_ITEMS", 50)
# How long a party waits for a buffering viewer before it plays on without them.
PARTY_WAIT_TIMEOUT_SECONDS = env_int("PARTY_WAIT_TIMEOUT_SECONDS", 20)
JOIN_RATE_LIMIT = (env_int("JOIN_RATE_LIMIT_COUNT", 10), env_int("JOIN_RATE_LIMIT_SECONDS", 60))
CHAT_SEND_RATE_LIMIT = (env_int("CHAT_SEND_RATE_LIMIT_COUNT", 5), env_int("CHAT_SEND_RATE_LIMIT_SECONDS", 5))
CHAT_SEND_USER_RATE_LIMIT = (
    env_int("CHAT_SEND_USER_RATE_LIMIT_COUNT", 20),
    env_int("CHAT_SEND_USER_RATE_LIMIT_SECONDS", 10),
)
TYPING_RATE_LIMIT = (env_int("TYPING_RATE_LIMIT_COUNT", 1), env_int("TYPING_RATE_LIMIT_SECONDS", 1))
# Brute-force limits (README "Configuration"; accounts.limits): failed logins per client
# address, per (username, address) and per username from everywhere, shared by the login page,
# the admin login and POST /api/auth/token/. A successful login counts in none of them.
LOGIN_RATE_LIMIT_IP = (env_int("LOGIN_RATE_LIMIT_IP_COUNT", 20), env_int("LOGIN_RATE_LIMIT_IP_SECONDS", 300))
LOGIN_RATE_LIMIT_USERNAME = (
    env_int("LOGIN_RATE_LIMIT_USERNAME_COUNT", 10),
    env_int("LOGIN_RATE_LIMIT_USERNAME_SECONDS", 300),
)
LOGIN_RATE_LIMIT_ACCOUNT = (
    env_int("LOGIN_RATE_LIMIT_ACCOUNT_COUNT", 100),
    env_int("LOGIN_RATE_LIMIT_ACCOUNT_SECONDS", 3600),
)
SIGNUP_RATE_LIMIT = (env_int("SIGNUP_RATE_LIMIT_COUNT", 10), env_int("SIGNUP_RATE_LIMIT_SECONDS", 3600))
# How many reverse proxies of ours append to X-Forwarded-For in front of the app; 0: the client
# address is REMOTE_ADDR and the header is ignored (anyone can write it).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# WebSocket frames, per user per party (chat.consumers.PartyConsumer.FRAME_RATE_LIMITS): (count, seconds).
REACTION_RATE_LIMIT = (env_int("REACTION_RATE_LIMIT_COUNT", 20), env_int("REACTION_RATE_LIMIT_SECONDS", 10))
PLAYBACK_RATE_LIMIT = (env_int("PLAYBACK_RATE_LIMIT_COUNT", 20), env_int("PLAYBACK_RATE_LIMIT_SECONDS", 10))
HISTORY_RATE_LIMIT = (env_int("HISTORY_RATE_LIMIT_COUNT", 10), env_int("HISTORY_RATE_LIMIT_SECONDS", 10))
RESUME_RATE_LIMIT = (env_int("RESUME_RATE_LIMIT_COUNT", 10), env_int("RESUME_RATE_LIMIT_SECONDS", 60))
PING_RATE_LIMIT = (env_int("PING_RATE_LIMIT_COUNT", 10), env_int("PING_RATE_LIMIT_SECONDS", 60))
# The shared queue's frames (queue.add, queue.remove, queue.move, queue.play, queue.next,
# queue.settings, queue.vote_skip) share one window.
QUEUE_RATE_LIMIT = (env_int("QUEUE_RATE_LIMIT_COUNT", 20), env_int("QUEUE_RATE_LIMIT_SECONDS", 10))
# player.buffering and player.ready together.
PLAYER_STATE_RATE_LIMIT = (env_int("PLAYER_STATE_RATE_LIMIT_COUNT", 20), env_int("PLAYER_STATE_RATE_LIMIT_SECONDS", 60))
FRAME_RATE_LIMIT = (env_int("FRAME_RATE_LIMIT_COUNT", 30), env_int("FRAME_RATE_LIMIT_SECONDS", 10))
# History pages by position (GET .../messages/?item=), per user per party: the replay asks for one
# as its video nears the end of what it has, and again after a seek.
HISTORY_BY_POSITION_RATE_LIMIT = (
    env_int("HISTORY_BY_POSITION_RATE_LIMIT_COUNT", 30),
    env_int("HISTORY_BY_POSITION_RATE_LIMIT_SECONDS", 10),
)
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 500)
CHAT_MESSAGE_EDIT_SECONDS = env_int("CHAT_MESSAGE_EDIT_SECONDS", 600)  # authors edit this long after sending
CHAT_HISTORY_PAGE_SIZE = 50
CHAT_HISTORY_MAX_LIMIT = 100
CHAT_MESSAGE_TTL_DAYS = env_int("CHAT_MESSAGE_TTL_DAYS", 30)
REACTIONS_MAX_EMOJI = env_int("REACTIONS_MAX_EMOJI", 20)
REACTIONS_MAX_USERS_PER_EMOJI = env_int("REACTIONS_MAX_USERS_PER_EMOJI", 100)
REACTION_EMOJI_MAX_LENGTH = 10
TRANSLATIONS_MAX_LANGUAGES = 10
TRANSLATION_MAX_LENGTH = 500
WEBSOCKET_MAX_FRAME_BYTES = env_int("WEBSOCKET_MAX_FRAME_BYTES", 16 * 1024)  # frames from clients
# permessage-deflate, offered to clients that ask (browsers do): a chat.message frame goes on the
# wire at 18% of its size, for about 12 us more CPU per socket per frame (`python bench/deflate.py`,
# docs/performance.md). Off saves that CPU where bandwidth is cheaper than cores.
WEBSOCKET_PER_MESSAGE_DEFLATE = env_bool("WEBSOCKET_PER_MESSAGE_DEFLATE", True)
# party.state carries the newest messages that fit in this many bytes of JSON (at most a page);
# older ones come with `history` from its next_before (PROTOCOL.md "Limits").
PARTY_STATE_MESSAGES_MAX_BYTES = env_int("PARTY_STATE_MESSAGES_MAX_BYTES", 256 * 1024)
# Open sockets one user may hold in one party; the next one closes with 4429.
WEBSOCKET_MAX_SOCKETS_PER_USER = env_int("WEBSOCKET_MAX_SOCKETS_PER_USER", 5)
# Party sockets one server process accepts; the next closes 1013 (try again later), so a client
# reconnects to another process rather than slowing every party of a full one. The alert
# WatchPartySocketsNearCap (monitoring/alerts.yml) fires at 90%.
WEBSOCKET_MAX_SOCKETS_PER_PROCESS = env_int("WEBSOCKET_MAX_SOCKETS_PER_PROCESS", 10000)
# A socket's presence entry (core/realtime/presence.py) lapses this long after its process stops
# refreshing it (a crash); refreshed every third of it.
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Translations: a dotted path to a chat.translation.Translator ---
CHAT_TRANSLATOR = os.environ.get("CHAT_TRANSLATOR", "chat.translation.NullTranslator")
LIBRETRANSLATE_URL = os.environ.get("LIBRETRANSLATE_URL", "")
LIBRETRANSLATE_API_KEY = os.environ.get("LIBRETRANSLATE_API_KEY", "")
# Target languages to produce, e.g. "en,he"; empty: no translation work at all.
CHAT_TRANSLATION_LANGUAGES = env_list("CHAT_TRANSLATION_LANGUAGES", [])
TRANSLATION_TIMEOUT_SECONDS = float(os.environ.get("TRANSLATION_TIMEOUT_SECONDS", "5"))
