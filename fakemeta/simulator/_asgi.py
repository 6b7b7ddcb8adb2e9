"""The ASGI lifespan protocol, for running an ASGI app in-process.

`AsgiTarget` (fakemeta/simulator/targets.py) runs it on the target's event loop:
`startup` before the first request, `shutdown` when the target closes. An
app that does not speak lifespan (it raises, or returns at once) is run
without it, as the ASGI spec asks of servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fakemeta.simulator.errors import ReceiverCrashed

__all__ = ["Lifespan"]


class Lifespan:
    """The ASGI lifespan protocol for one app, on the target's event loop."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._inbox: asyncio.Queue[dict[str, Any]] | None = None
        self._outbox: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._inbox, self._outbox = asyncio.Queue(), asyncio.Queue()
        inbox, outbox = self._inbox, self._outbox
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}

        async def run() -> None:
            try:
                await self.app(scope, inbox.get, outbox.put)
            except Exception as exc:  # the spec: such an app does not do lifespan
                await outbox.put({"type": "fakemeta.unsupported", "message": str(exc)})
            await outbox.put({"type": "fakemeta.returned"})

        self._task = asyncio.get_running_loop().create_task(run())
        await inbox.put({"type": "lifespan.startup"})
        answer = await outbox.get()
        if answer["type"] == "lifespan.startup.failed":
            raise ReceiverCrashed(
                f"the ASGI app's lifespan startup failed: {answer.get('message', '')}"
                " — fix the app's startup handler",
                url="asgi://lifespan",
            )
        if answer["type"] != "lifespan.startup.complete":
            self._task = None  # no lifespan support: run the app without it

    async def shutdown(self) -> None:
        if self._task is None or self._task.done() or self._inbox is None:
            return
        assert self._outbox is not None
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()  # shutdown.complete, .failed, or the app returning
        self._task = None
