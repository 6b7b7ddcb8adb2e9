"""A ready locustfile: Meta's webhook traffic with the defaults of `fakemeta load`.

One user class, `WhatsAppWebhook`: unique signed bodies of the default mix
(text=8,image=1,status=3), one update a body, 2026 shapes, posted as fast
as they are answered. Change any of it with the `--fakemeta-*` options
(`locust --help` lists them), or subclass `WhatsAppWebhookUser` in a
locustfile of your own.

    python -m fakemeta.simulator.load.locustfile --headless -u 50 -r 50 -t 1m \\
        --host http://127.0.0.1:8000/api/integrations/webhooks/whatsapp/ \\
        --fakemeta-app-secret "$META_CLIENT_SECRET"

runs Locust on this file with the options given. Distributed, each machine
points Locust at the installed file:

    LOCUSTFILE=$(python -c "import importlib.util as u; \\
        print(u.find_spec('fakemeta.simulator.load.locustfile').origin)")
    locust -f "$LOCUSTFILE" --master --headless --expect-workers 4 -u 400 -r 100 -t 5m \\
        --host URL --fakemeta-app-secret SECRET
    locust -f "$LOCUSTFILE" --worker --master-host MASTER   # on each worker machine

Workers take the `--fakemeta-*` settings and `--host` from the master.
`fakemeta load --locust` runs this file too, a master and local workers,
and reports the run as `fakemeta load` does.
"""

from __future__ import annotations

import sys

from fakemeta.simulator.load.locust import WhatsAppWebhookUser

__all__ = ["WhatsAppWebhook"]


class WhatsAppWebhook(WhatsAppWebhookUser):
    """`WhatsAppWebhookUser` with its defaults."""


if __name__ == "__main__":
    from locust.main import main

    sys.argv = ["locust", "-f", __file__, *sys.argv[1:]]
    main()  # type: ignore[no-untyped-call]
