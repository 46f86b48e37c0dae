"""The simulated terminal's screen as a small Tk window: what the customer sees (amount,
method, the QR code drawn with segno) and buttons for what the customer or the terminal
does next. What it shows is decided by ``screen.present``; this module only copies it into
widgets, from an ``after`` timer that reads the customer's snapshot (Tk is touched from its
own thread only).

Test hook: with ``state_file`` (the environment variable POSBRIDGE_TERMINAL_STATE for
``posbridge simulator --window``), the window writes what it shows and where its buttons
are to that file as JSON, for tests that click it under Xvfb.
"""

from __future__ import annotations

import functools
import json
import os
import tkinter as tk
from pathlib import Path
from tkinter import ttk

import segno

from .screen import BUTTONS, ScreenView, WindowCustomer, present

STATE_ENV = "POSBRIDGE_TERMINAL_STATE"
QR_PIXELS = 240  # about the size of a terminal's QR on screen
POLL_MS = 100
#: Where each button sits (row, column): what the customer does on the left, what the
#: terminal or the cable does on the right.
_PLACES = {"pay": (0, 0), "cancel": (0, 1), "decline": (1, 0), "timeout": (1, 1),
           "lose_result": (2, 0), "drop_link": (2, 1)}


def qr_image(payload: str) -> tk.PhotoImage:
    """The payload as a QR code image (error correction M, as SGQR codes use)."""
    code = segno.make(payload, error="m")
    width, _ = code.symbol_size(border=2)
    uri = code.png_data_uri(scale=max(2, QR_PIXELS // width), border=2)
    return tk.PhotoImage(data=uri.split(",", 1)[1], format="png")


class TerminalWindow:
    def __init__(self, master: tk.Misc, customer: WindowCustomer, *,
                 state_file: Path | None = None, own_window: bool = False) -> None:
        self.customer = customer
        self.state_file = state_file
        self.top: tk.Tk | tk.Toplevel = (
            master if isinstance(master, tk.Tk) and not own_window else tk.Toplevel(master))
        self.top.title("posbridge terminal simulator")
        if isinstance(self.top, tk.Toplevel):
            # Closed beside the panel: the cents table takes over, so no payment waits for
            # a click that cannot come.
            self.top.protocol("WM_DELETE_WINDOW", self._closed_by_user)
        self.widgets: dict[str, tk.Widget] = {}
        self._view: ScreenView | None = None
        self._qr_payload = ""
        self._qr: tk.PhotoImage | None = None
        self._written = ""
        self._after = ""
        self._closed = False

        frame = ttk.Frame(self.top, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="SIMULATOR: no real money", foreground="#b00000").pack()
        self.headline = ttk.Label(frame, font=("TkDefaultFont", 22, "bold"))
        self.headline.pack(pady=(6, 0))
        self.method = ttk.Label(frame, font=("TkDefaultFont", 13))
        self.method.pack()
        self.qr_label = ttk.Label(frame)
        self.qr_label.pack(pady=6)
        self.detail = ttk.Label(frame, wraplength=320, justify="center")
        self.detail.pack()

        buttons = ttk.Frame(frame)
        buttons.pack(pady=(10, 0))
        self.code = tk.StringVar(value="51")
        for name, label in BUTTONS.items():
            row, column = _PLACES[name]
            cell: tk.Misc = buttons
            if name == "decline":  # the button and its code, side by side in one cell
                cell = ttk.Frame(buttons)
                cell.grid(row=row, column=column, sticky="ew", padx=3, pady=3)
                entry = ttk.Entry(cell, textvariable=self.code, width=4)
                entry.pack(side="right", padx=(4, 0))
                self.widgets["decline_code"] = entry
            button = ttk.Button(cell, text=label, command=functools.partial(self._click, name))
            if name == "decline":
                button.pack(side="left", fill="x", expand=True)
            else:
                button.grid(row=row, column=column, sticky="ew", padx=3, pady=3)
            self.widgets[name] = button
        self.auto = tk.BooleanVar(value=customer.snapshot().auto)
        check = ttk.Checkbutton(frame, text="Cents table decides (no clicks needed)",
                                variable=self.auto,
                                command=lambda: customer.set_auto(self.auto.get()))
        check.pack(pady=(8, 0))
        self.widgets["auto"] = check
        self.error = ttk.Label(frame, foreground="#b00000", wraplength=320)
        self.error.pack()
        self.last = ttk.Label(frame, foreground="#505050", wraplength=320)
        self.last.pack(pady=(4, 0))
        self._tick()

    def _click(self, name: str) -> None:
        self.customer.click(name, self.code.get())
        self._tick(again=False)

    def _tick(self, again: bool = True) -> None:
        view = present(self.customer.snapshot())
        if view != self._view:
            self._show(view)
            self._view = view
        self._write_state()
        if again and not self._closed:
            self._after = self.top.after(POLL_MS, self._tick)

    def _closed_by_user(self) -> None:
        self.customer.set_auto(True)
        self.close()

    def close(self) -> None:
        """Stop showing (the panel closes the window when its listener stops); once only."""
        if self._closed:
            return
        self._closed = True
        if self._after:
            self.top.after_cancel(self._after)
        self.top.destroy()

    def _show(self, view: ScreenView) -> None:
        self.top.title(view.title)
        self.headline.configure(text=view.headline)
        self.method.configure(text=view.method)
        self.detail.configure(text=view.detail)
        self.error.configure(text=view.error)
        self.last.configure(text=view.last)
        if view.qr != self._qr_payload:
            self._qr_payload = view.qr
            self._qr = qr_image(view.qr) if view.qr else None
            self.qr_label.configure(image=self._qr or "")
        for name, enabled in view.enabled.items():
            widget = self.widgets[name]
            assert isinstance(widget, ttk.Button)
            widget.state(["!disabled"] if enabled else ["disabled"])

    def _write_state(self) -> None:
        if self.state_file is None or self._view is None:
            return
        self.top.update_idletasks()
        view = self._view
        state = {
            "title": view.title, "headline": view.headline, "method": view.method,
            "detail": view.detail, "qr": view.qr, "qr_drawn": self._qr is not None,
            "last": view.last, "error": view.error, "enabled": view.enabled,
            "widgets": {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(),
                               w.winfo_height()] for name, w in self.widgets.items()
                        if w.winfo_ismapped()},
        }
        text = json.dumps(state, indent=1)
        if text == self._written:
            return
        self._written = text
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.state_file)
