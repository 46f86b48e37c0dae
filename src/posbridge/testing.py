"""A scripted terminal for tests: the simulator's terminal with faults on cue.

As httpcore ships a mock backend, posbridge ships this: ``ScriptedTerminal`` is the real
simulated terminal (``TerminalModel``, with its own record of every payment and batch)
whose next answers can be scripted per message kind. It runs behind the real link
(``TerminalServer``), so the bridge under test uses its real ``TerminalClient``, link
protocol and journal; only the terminal's behaviour is chosen by the test::

    terminal = ScriptedTerminal(customer_delay=0.1)
    terminal.next("void", "lose")       # the terminal voids, but its answer never comes
    terminal.next("batch", "late", delay=1.5)
    terminal.next("sale", "refuse", reason="busy")

Actions, for the next message of that kind (each is used once, in order):

``lose``
    the terminal acts on the request, and its answer is lost (never sent);
``late``
    the terminal acts on it and answers after ``delay`` seconds;
``drop``
    the terminal acts on it, then the link drops before the answer goes out;
``ignore``
    the request never reaches the terminal's application: nothing happens, no answer;
``refuse``
    the terminal refuses it with ``reason``, changing nothing.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

from .protocol.messages import Message, Reply
from .simulator.model import TerminalModel

ACTIONS = ("lose", "late", "drop", "ignore", "refuse")


@dataclass(frozen=True)
class Fault:
    action: str
    delay: float = 0.0
    reason: str = ""


class ScriptedTerminal(TerminalModel):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque)
        #: Every request the terminal's application received, in order.
        self.received: list[Message] = []

    def next(self, kind: str, action: str, *, delay: float = 0.0, reason: str = "") -> None:
        """Script the next message of ``kind`` (``sale``, ``query``, ``void``, ``cancel``,
        ``batch``, ``batch_query``, ``refund``, ``refund_query``, ``totals``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        self._script[kind].append(Fault(action, delay, reason))

    def pending_faults(self) -> dict[str, int]:
        return {kind: len(faults) for kind, faults in self._script.items() if faults}

    def handle(self, message: Message) -> Message | None:
        faults = self._script.get(message.KIND)
        fault = faults.popleft() if faults else None
        if fault is not None and fault.action == "ignore":
            return None
        self.received.append(message)
        if fault is None:
            return super().handle(message)
        if fault.action == "refuse":
            return Reply(getattr(message, "rid", 0), getattr(message, "ref", ""),
                         accepted=False, reason=fault.reason)
        answer = super().handle(message)  # the terminal acts on the request...
        if fault.action == "late" and answer is not None:
            asyncio.get_running_loop().call_later(fault.delay, self.emit, answer)
        elif fault.action == "drop":
            self.drop_link()
        return None  # ...and its answer is late, lost, or lost with the link
