"""fakemeta simulator: Meta's side of WhatsApp Cloud API webhooks."""
