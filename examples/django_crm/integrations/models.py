"""Integration accounts (a company's connected WhatsApp number) and their logs."""

from __future__ import annotations

from django.db import models

from crm.models import Company
from integrations import crypto

ACTION_MESSAGE_RECEIVED = "whatsapp_message_received"


class IntegrationAccount(models.Model):
    """A company's connection to a platform.

    For WhatsApp, `metadata` holds `phone_number_id` (what Meta's deliveries
    name), `phone_number` and `access_token`, the latter encrypted.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="integrations")
    platform = models.CharField(max_length=32)  # "whatsapp"
    status = models.CharField(max_length=32, default="connected")
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.platform} {self.metadata.get('phone_number', '')} ({self.status})"

    @property
    def phone_number_id(self) -> str | None:
        value = self.metadata.get("phone_number_id")
        return value if isinstance(value, str) else None

    @property
    def access_token(self) -> str | None:
        stored = self.metadata.get("access_token")
        return crypto.decrypt(stored) if stored else None

    @access_token.setter
    def access_token(self, token: str) -> None:
        self.metadata = {**self.metadata, "access_token": crypto.encrypt(token)}


class IntegrationLog(models.Model):
    """What happened on an integration; one entry per received message id."""

    account = models.ForeignKey(IntegrationAccount, on_delete=models.CASCADE, related_name="logs")
    action = models.CharField(max_length=64)
    message_id = models.CharField(max_length=256)
    sender = models.CharField(max_length=64, null=True, blank=True)
    message_type = models.CharField(max_length=64)
    text = models.TextField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Meta redelivers: the same message id is logged once per account.
            models.UniqueConstraint(
                fields=["account", "action", "message_id"], name="one_log_per_message"
            ),
        ]
