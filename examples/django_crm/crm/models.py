"""The CRM side: companies (tenants) and their clients."""

from __future__ import annotations

from django.db import models


class Company(models.Model):
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class Client(models.Model):
    """A customer of a company, found or created from the first WhatsApp message."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="clients")
    account = models.ForeignKey(
        "integrations.IntegrationAccount", on_delete=models.CASCADE, related_name="clients"
    )
    source = models.CharField(max_length=32)  # "whatsapp"
    # Since 2026 Meta may hide the number and name the user by a business-scoped
    # user id instead; a client has either or both (integrations/whatsapp.py).
    phone = models.CharField(max_length=32, null=True, blank=True)
    user_id = models.CharField(max_length=128, null=True, blank=True)
    name = models.CharField(max_length=512, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # "Find or create" under parallel deliveries: the database decides.
            models.UniqueConstraint(
                fields=["account", "source", "phone"], name="one_client_per_number"
            ),
            models.UniqueConstraint(
                fields=["account", "source", "user_id"], name="one_client_per_user_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.phone or self.user_id} ({self.source})"
