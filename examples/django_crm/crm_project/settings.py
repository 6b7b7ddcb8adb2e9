"""Settings for the example CRM, read from the environment (the seed's `.env` names).

META_CLIENT_SECRET         the app secret: every webhook POST is signed with it
META_WEBHOOK_VERIFY_TOKEN  the verify token of the subscription handshake
META_CLIENT_ID, API_BASE_URL  as in the seed (not needed to receive)
INTEGRATION_ENCRYPTION_KEY a Fernet key: access tokens are stored encrypted with it
DJANGO_SECRET_KEY, DJANGO_DEBUG, DATABASE_PATH  Django's own
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",")

META_CLIENT_ID = os.environ.get("META_CLIENT_ID", "")
META_CLIENT_SECRET = os.environ.get("META_CLIENT_SECRET", "")
META_WEBHOOK_VERIFY_TOKEN = os.environ.get("META_WEBHOOK_VERIFY_TOKEN", "")
API_BASE_URL = os.environ.get("API_BASE_URL", "http://localhost:8000")
INTEGRATION_ENCRYPTION_KEY = os.environ.get("INTEGRATION_ENCRYPTION_KEY", "")

# The seed's @rate_limit_webhook(max_requests=100, window=60), per client IP.
WHATSAPP_RATE_LIMIT = (
    int(os.environ.get("WHATSAPP_RATE_LIMIT_REQUESTS", "100")),
    int(os.environ.get("WHATSAPP_RATE_LIMIT_WINDOW", "60")),
)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "crm",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DATABASE_PATH", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            # Meta delivers in parallel: writers queue for the lock instead of
            # failing with "database is locked".
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}

# The rate limiter's counters. One process: local memory. Several workers
# must share them: point this at Redis (django.core.cache.backends.redis).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"integrations": {"handlers": ["console"], "level": "WARNING"}},
}
