"""Settings of the baseline Channels app: only what Channels needs, the layer from the environment
(the same REDIS_URL / CHANNEL_LAYER_BACKEND variables as watchparty.settings)."""

import os

SECRET_KEY = "bench-baseline-only"
DEBUG = False
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = None
ASGI_APPLICATION = "bench.baseline_channels.asgi.application"

_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
_backend = os.environ.get("CHANNEL_LAYER_BACKEND", "") or "core"
REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYERS = {
    "default": {"BACKEND": _BACKENDS.get(_backend, _backend), "CONFIG": {"hosts": [REDIS_URL]}}
    if REDIS_URL
    else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
