"""A fake Graph API and the webhooks it owes: what `fakemeta serve` and the
in-process Graph fixture are made of."""
