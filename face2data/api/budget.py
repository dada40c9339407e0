"""Stopping a request's heavy work when its client goes away or its time budget is spent.

The explainers call a ``progress`` callable between batches of masked faces; ``Budget.check`` is one that raises,
so the worker thread stops within one batch once ``watched`` has heard the client disconnect, or once the budget's
seconds have passed. The exception carries the request's status: 499 (logged; the client is gone) or 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from fastapi import HTTPException, Request

from face2data.api.requests import CLIENT_CLOSED


@dataclass
class Budget:
    """When one request's heavy work must stop: once its client is gone, or ``seconds`` after it began."""

    seconds: float
    start: float = field(default_factory=time.monotonic)
    gone: threading.Event = field(default_factory=threading.Event)

    def check(self, _done: float = 0.0) -> None:
        """Raise a 499 once the client is gone, a 503 once the time is spent; usable as a ``progress`` callback."""
        if self.gone.is_set():
            raise HTTPException(CLIENT_CLOSED, "the client closed the connection")
        if time.monotonic() - self.start > self.seconds:
            raise HTTPException(
                503, f"the work took longer than the {self.seconds:g} s one request may take (the server is busy); "
                "try again later, or ask for less (an explanation with pixels=false)",
            )  # fmt: skip


@asynccontextmanager
async def watched(request: Request, seconds: float) -> AsyncIterator[Budget]:
    """A Budget of ``seconds`` for the work of the block, marked ``gone`` as soon as the client disconnects.

    Enter it after the body has been read: it listens on the request's receive channel, where nothing but the
    disconnect is left to come.
    """
    budget = Budget(seconds)

    async def listen() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        budget.gone.set()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(listen)
            try:
                yield budget
            finally:
                group.cancel_scope.cancel()
    except BaseExceptionGroup as errors:  # the block's own exception (the listener raises none), unwrapped
        raise errors.exceptions[0] from None
