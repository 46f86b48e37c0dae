"""Reading a request body through ASGI ``receive``, with a size cap and a deadline.

The deadline is the ASGI layer's, on uvicorn's public interface: a request pipelined behind
another is not read before that one is answered, so its deadline starts only when it is.
``asyncio.timeout()`` around each read would arm and cancel a loop timer per request, which
measured 12-18 us here (bench/app_cost.py's whole QueryPayment is about 90 us); instead one
``BodyReader`` keeps the reads in progress in a dict and one timer sweeps them while there
are any, so the usual request (its body already in with its head) costs a dict insert and
delete and no timer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive

from .. import errors

#: Bytes a request body may take; more gets 413 without reading the rest.
MAX_BODY = 16 * 1024
#: Seconds a client has to send a whole request body once the route starts reading it.
BODY_TIMEOUT = 10.0


class BodyReader:
    """Reads bodies for one app, on one event loop; ``timeout`` defaults to BODY_TIMEOUT."""

    def __init__(self, timeout: float | None = None, max_body: int = MAX_BODY) -> None:
        self.timeout = BODY_TIMEOUT if timeout is None else timeout
        self.max_body = max_body
        # A deadline is met within a tenth of its length (10 s: between 10 and 11 s).
        self._interval = self.timeout / 10
        self._reading: dict[asyncio.Task[Any], float] = {}  # task -> deadline
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    async def read(self, receive: Receive, content_length: str | None) -> bytes:
        """The whole body: RequestTooLarge past ``max_body`` (without reading the rest),
        RequestTimeout past ``timeout`` seconds, InvalidRequest if the client left."""
        if content_length is not None and content_length.isdigit() \
                and int(content_length) > self.max_body:
            raise self._too_large()
        task: asyncio.Task[Any] = asyncio.current_task()  # type: ignore[assignment]
        self._reading[task] = task.get_loop().time() + self.timeout
        if self._sweeper is None:
            loop = task.get_loop()
            self._sweeper = loop.call_later(self._interval, self._sweep, loop)
        body = b""
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    # Nobody is left to read the answer; this only keeps it out of the log.
                    raise errors.InvalidRequest("the client closed the connection mid-body")
                chunk: bytes = message.get("body", b"")
                body += chunk
                if len(body) > self.max_body:
                    raise self._too_large()
                if not message.get("more_body", False):
                    return body
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # a real cancellation (shutdown), not the deadline
            self._expired.discard(task)
            task.uncancel()
            raise errors.RequestTimeout(
                f"the request body did not arrive within {self.timeout:g} s; send it again"
            ) from None
        finally:
            self._reading.pop(task, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                # The task is suspended in read() (it leaves the dict before it returns):
                # the cancellation arrives at its ``await receive()``.
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        self._sweeper = (loop.call_later(self._interval, self._sweep, loop)
                         if self._reading else None)

    def _too_large(self) -> errors.RequestTooLarge:
        return errors.RequestTooLarge(f"the request body is over {self.max_body // 1024} KiB")
