"""The seed's webhook URL: /api/integrations/webhooks/whatsapp/."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("api/integrations/", include("integrations.urls")),
]
