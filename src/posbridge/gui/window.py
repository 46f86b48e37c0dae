"""The Tk window of ``posbridge gui``.

It never waits on the bridge: the listener runs in a ListenerThread, and the window polls
its status snapshot, the journal (read-only, its own connection: short reads that a WAL
writer never blocks) and the log queue from Tk's ``after`` timer. What to show for a status
is decided by ``presenter``; this module only copies it into widgets.

For tests, ``POSBRIDGE_GUI_STATE=PATH`` makes the window write what it shows (texts, rows,
button states and where its named widgets are on the screen) to PATH as JSON whenever it
changes, so a test can click real buttons with xdotool and read back the result.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tkinter as tk
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from tkinter import filedialog, messagebox, ttk
from typing import Any, Literal

from .. import about, errors
from ..bundle import BundleResult, default_output, make_bundle
from ..journal import Journal, JournalError, default_path
from ..listener import ListenerConfig, ListenerStatus, ListenerThread
from . import presenter
from .choices import TerminalOption, option_for, terminal_options
from .settings import Settings, save

log = logging.getLogger("posbridge.gui")

TICK_MS = 250  # status, log pane and pending answers
LIST_EVERY = 2  # ticks between journal reads (0.5 s)
LIST_LIMIT = 200
REPORT_WAIT = 4.0  # seconds the batch confirmation waits for the X report
LOG_PANE_LINES = 2000

COLOURS = {presenter.GREEN: "#1b7f3a", presenter.AMBER: "#b45f06",
           presenter.RED: "#c62828", presenter.GREY: "#6b6b6b"}
ROW_COLOURS = {presenter.PAID: "#1b5e20", presenter.WAITING: "#b45f06",
               presenter.UNPAID: "#7a1f1f"}


class PanelWindow:
    def __init__(
        self,
        root: tk.Tk,
        settings: Settings,
        settings_path: Path,
        log_lines: queue.Queue[logging.LogRecord],
        log_dir: Path,
        *,
        listener: ListenerThread | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.settings_path = settings_path
        self.log_lines = log_lines
        self.log_dir = log_dir
        self.listener = listener or ListenerThread()
        self.state_file = state_file
        self._journal: Journal | None = None
        self._journal_path: Path | None = None
        self._rows: list[presenter.Row] = []
        self._list_note = ""
        self._ticks = 0
        self._last_state = ""
        self._batch: Any = None  # concurrent.futures.Future[BatchSummary] while submitting
        self._bundle: concurrent.futures.Future[BundleResult] | None = None
        #: settling a payment by hand: (ok, text to show) once the bridge has answered
        self._resolve: concurrent.futures.Future[tuple[bool, str]] | None = None
        self._payments: dict[str, Any] = {}  # the listed payments by reference
        self._closing = False
        self._signalled = False
        self._shown_state = ""
        self.widgets: dict[str, Any] = {}  # the named ones: tests find and click them
        self.terminal_window: Any = None  # the simulator's, while its listener runs
        self.options: list[TerminalOption] = []
        self._build()
        self._load_form()
        self._tick()

    # -- building ---------------------------------------------------------------------

    def _build(self) -> None:
        root = self.root
        root.title("posbridge")
        root.minsize(760, 560)
        root.geometry("900x780")
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Banner.TLabel", background="#ffb300", foreground="#000000",
                        font=("TkDefaultFont", 11, "bold"), padding=(10, 6))
        style.configure("Error.TLabel", foreground=COLOURS[presenter.RED])
        style.configure("Lamp.TLabel", font=("TkDefaultFont", 14))
        style.configure("Strong.TLabel", font=("TkDefaultFont", 10, "bold"))
        style.configure("Treeview", rowheight=22)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(4, weight=3)
        root.rowconfigure(5, weight=1)

        self.banner = ttk.Label(root, style="Banner.TLabel", anchor="center")
        self.banner.grid(row=0, column=0, sticky="ew")

        form = ttk.LabelFrame(root, text="Listener", padding=(10, 6))
        form.grid(row=1, column=0, sticky="ew", padx=10, pady=(8, 4))
        form.columnconfigure(5, weight=1)
        self.host = tk.StringVar()
        self.port = tk.StringVar()
        self.terminal = tk.StringVar()
        self.address = tk.StringVar()
        self.minimized = tk.BooleanVar()
        self.autostart = tk.BooleanVar()
        self.simulator_window = tk.BooleanVar()
        ttk.Label(form, text="Host").grid(row=0, column=0, sticky="w")
        self._add("host", ttk.Entry(form, textvariable=self.host, width=16)).grid(
            row=0, column=1, sticky="w", padx=(4, 12))
        ttk.Label(form, text="Port").grid(row=0, column=2, sticky="w")
        self._add("port", ttk.Entry(form, textvariable=self.port, width=7)).grid(
            row=0, column=3, sticky="w", padx=(4, 12))
        ttk.Label(form, text="Terminal").grid(row=1, column=0, sticky="w", pady=(6, 0))
        combo = ttk.Combobox(form, textvariable=self.terminal, state="readonly", width=44)
        combo.bind("<<ComboboxSelected>>", lambda _e: self._form_changed())
        self._add("terminal", combo).grid(row=1, column=1, columnspan=4, sticky="w",
                                          padx=(4, 12), pady=(6, 0))
        self._add("refresh", ttk.Button(form, text="Look again", command=self._refresh_terminals)
                  ).grid(row=1, column=5, sticky="w", pady=(6, 0))
        ttk.Label(form, text="Address").grid(row=2, column=0, sticky="w", pady=(6, 0))
        self._add("address", ttk.Entry(form, textvariable=self.address, width=30)).grid(
            row=2, column=1, columnspan=3, sticky="w", padx=(4, 12), pady=(6, 0))
        self._add("simulator_window", ttk.Checkbutton(
            form, text="Simulator: a terminal window to click", variable=self.simulator_window,
            command=self._save_settings)).grid(row=2, column=4, columnspan=2, sticky="w",
                                               pady=(6, 0))
        buttons = ttk.Frame(form)
        buttons.grid(row=3, column=0, columnspan=6, sticky="w", pady=(8, 0))
        self._add("start", ttk.Button(buttons, text="Start listener", command=self.start)).pack(
            side="left")
        self._add("stop", ttk.Button(buttons, text="Stop listener", command=self.stop)).pack(
            side="left", padx=(6, 18))
        self._add("minimized", ttk.Checkbutton(
            buttons, text="Start minimised", variable=self.minimized,
            command=self._save_settings)).pack(side="left")
        self._add("autostart", ttk.Checkbutton(
            buttons, text="Start the listener when the panel opens", variable=self.autostart,
            command=self._save_settings)).pack(side="left", padx=(12, 0))
        self.form_error = ttk.Label(form, style="Error.TLabel", wraplength=700)
        self.form_error.grid(row=4, column=0, columnspan=6, sticky="w")

        status = ttk.LabelFrame(root, text="Status", padding=(10, 4))
        status.grid(row=2, column=0, sticky="ew", padx=10, pady=4)
        status.columnconfigure(2, weight=1)
        self.lamps: dict[str, tuple[ttk.Label, ttk.Label]] = {}
        for row, (name, caption) in enumerate((("listener", "Listener"),
                                               ("terminal", "Terminal"),
                                               ("payment", "Payment"))):
            lamp = ttk.Label(status, text="\u25cf", style="Lamp.TLabel")
            lamp.grid(row=row * 2, column=0, sticky="w")
            ttk.Label(status, text=caption, style="Strong.TLabel", width=9).grid(
                row=row * 2, column=1, sticky="w")
            text = ttk.Label(status, wraplength=620)
            text.grid(row=row * 2, column=2, sticky="w")
            self.lamps[name] = (lamp, text)
        detail = ttk.Frame(status)
        detail.grid(row=3, column=2, sticky="w")
        self.terminal_detail = ttk.Label(detail, foreground=COLOURS[presenter.GREY])
        self.terminal_detail.pack(anchor="w")
        # The link's latest events (attach, detach, reconnects): what the help desk asks for.
        self.link_history = ttk.Label(detail, foreground=COLOURS[presenter.GREY],
                                      justify="left", wraplength=620)
        self.link_history.pack(anchor="w")

        bar = ttk.Frame(root, padding=(10, 4, 10, 0))
        bar.grid(row=3, column=0, sticky="ew")
        ttk.Label(bar, text="Recent payments", style="Strong.TLabel").pack(side="left")
        self.filter = tk.StringVar()
        self.filter.trace_add("write", lambda *_a: self._refresh_list())
        self._add("batch", ttk.Button(bar, text="Submit batch...", command=self.submit_batch)
                  ).pack(side="right")
        self._add("resolve", ttk.Button(bar, text="Resolve...", command=self.resolve)
                  ).pack(side="right", padx=(0, 6))
        self._add("filter", ttk.Entry(bar, textvariable=self.filter, width=22)).pack(
            side="right", padx=(4, 18))
        ttk.Label(bar, text="Reference contains").pack(side="right")
        self.list_note = ttk.Label(bar, foreground=COLOURS[presenter.GREY])
        self.list_note.pack(side="left", padx=(12, 0))

        table = ttk.Frame(root, padding=(10, 2, 10, 4))
        table.grid(row=4, column=0, sticky="nsew")
        table.columnconfigure(0, weight=1)
        table.rowconfigure(0, weight=1)
        tree = ttk.Treeview(table, columns=presenter.COLUMNS, show="headings", height=8,
                            selectmode="browse")
        anchors: tuple[Literal["w", "e", "center"], ...] = ("w", "w", "e", "center", "w")
        for column, width, anchor in zip(presenter.COLUMNS, (130, 220, 80, 140, 200),
                                         anchors, strict=True):
            tree.heading(column, text=column.capitalize(), anchor=anchor)
            tree.column(column, width=width, anchor=anchor, stretch=column == "reference")
        for tag, colour in ROW_COLOURS.items():
            tree.tag_configure(tag, foreground=colour)
        scroll = ttk.Scrollbar(table, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.tree = self._add("payments", tree)

        logs = ttk.LabelFrame(root, text="Log", padding=(6, 4))
        logs.grid(row=5, column=0, sticky="nsew", padx=10, pady=(4, 10))
        logs.columnconfigure(0, weight=1)
        logs.rowconfigure(0, weight=1)
        self.log_text = tk.Text(logs, height=7, wrap="none", state="disabled",
                                font=("TkFixedFont", 9), background="#fafafa",
                                relief="flat", borderwidth=0)
        log_scroll = ttk.Scrollbar(logs, orient="vertical", command=self.log_text.yview)
        log_wide = ttk.Scrollbar(logs, orient="horizontal", command=self.log_text.xview)
        self.log_text.configure(yscrollcommand=log_scroll.set, xscrollcommand=log_wide.set)
        self.log_text.grid(row=0, column=0, sticky="nsew")
        log_scroll.grid(row=0, column=1, sticky="ns")
        log_wide.grid(row=1, column=0, sticky="ew")
        foot = ttk.Frame(logs)
        foot.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        ttk.Label(foot, text=f"Log file: {self.log_dir}",
                  foreground=COLOURS[presenter.GREY]).pack(side="left")
        self._add("open_logs", ttk.Button(foot, text="Open log folder",
                                          command=self.open_log_folder)).pack(side="right")
        self._add("bundle", ttk.Button(foot, text="Support bundle...",
                                       command=self.support_bundle)).pack(side="right", padx=6)

        root.protocol("WM_DELETE_WINDOW", self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Python runs the handler between Tk events (the tick wakes it): close cleanly.
            signal.signal(sig, self._on_signal)

    def _add(self, name: str, widget: Any) -> Any:
        self.widgets[name] = widget
        return widget

    # -- the form and the settings ----------------------------------------------------

    def _load_form(self) -> None:
        s = self.settings
        self.host.set(s.host)
        self.port.set(str(s.port))
        self.address.set(s.address)
        self.minimized.set(s.start_minimized)
        self.autostart.set(s.autostart)
        self.simulator_window.set(s.simulator_window)
        self._refresh_terminals(select=s.terminal)
        if s.geometry:
            with contextlib.suppress(tk.TclError):
                self.root.geometry(s.geometry)

    def _refresh_terminals(self, select: str | None = None) -> None:
        current = self.selected() if self.options else None
        self.options = terminal_options(saved=self.settings.terminal)
        combo = self.widgets["terminal"]
        combo.configure(values=[o.label for o in self.options])
        chosen = option_for(select, self.options) if select is not None else (
            current if current in self.options else self.options[0])
        self.terminal.set(chosen.label)
        self._form_changed()

    def selected(self) -> TerminalOption:
        label = self.terminal.get()
        return next((o for o in self.options if o.label == label), self.options[0])

    def _form_changed(self) -> None:
        self.form_error.configure(text="")
        self._apply(force=True)

    def _save_settings(self) -> None:
        s = self.settings
        s.start_minimized, s.autostart = self.minimized.get(), self.autostart.get()
        s.simulator_window = self.simulator_window.get()
        with contextlib.suppress(tk.TclError):
            s.geometry = self.root.geometry()
        try:
            save(self.settings_path, s)
        except OSError as exc:
            log.warning("panel: could not save the settings to %s: %s", self.settings_path, exc)

    # -- actions ----------------------------------------------------------------------

    def start(self) -> None:
        if self.listener.alive:
            return
        option = self.selected()
        try:
            config = presenter.read_form(
                self.host.get(), self.port.get(), option, self.address.get(),
                customer_delay=self.settings.customer_delay, journal=self.settings.journal)
        except presenter.FormError as exc:
            self.form_error.configure(text=str(exc))
            log.warning("panel: not started: %s", exc)
            self._write_state()
            return
        self.form_error.configure(text="")
        s = self.settings
        s.host, s.port, s.terminal = config.host, config.port, config.terminal
        if option.takes_address:
            s.address = config.terminal
            self.address.set(config.terminal)
        self._save_settings()
        log.info("panel: starting the listener on %s:%d with terminal %s", config.host,
                 config.port, config.terminal)
        self._close_terminal_window()
        if option.simulated and self.simulator_window.get():
            config = self._open_terminal_window(config)
        self.listener.start(config)
        self._apply(force=True)

    def stop(self) -> None:
        if not self.listener.alive:
            return
        question = presenter.stop_question(self._fresh_status())
        if question and not messagebox.askyesno("Stop the listener?", question, icon="warning",
                                                default="no", parent=self.root):
            return
        log.info("panel: stopping the listener")
        self._close_terminal_window()
        self.listener.stop()
        self._apply(force=True)

    def _open_terminal_window(self, config: ListenerConfig) -> ListenerConfig:
        """The simulator's terminal window beside the panel; its customer goes to the
        listener's simulator, which runs in the listener's thread (screen.py)."""
        from ..simulator.screen import WindowCustomer
        from ..simulator.window import STATE_ENV, TerminalWindow

        customer = WindowCustomer(config.customer_delay)
        state = os.environ.get(STATE_ENV)
        self.terminal_window = TerminalWindow(self.root, customer, own_window=True,
                                              state_file=Path(state) if state else None)
        return replace(config, customer=customer)

    def _close_terminal_window(self) -> None:
        if self.terminal_window is not None:
            self.terminal_window.close()
            self.terminal_window = None

    def _fresh_status(self) -> ListenerStatus:
        """The status, with the payment on the terminal read from the journal now: the
        snapshot can be a fraction of a second old."""
        status = self.listener.status()
        journal = self._open_journal()
        if journal is not None and status.payment is None:
            with contextlib.suppress(sqlite3.Error):
                active = journal.active()
                if active:
                    status = replace(status, payment=active[0])
        return status

    def submit_batch(self) -> None:
        if self._batch is not None:
            return
        journal = self._open_journal()
        try:
            unsettled = journal.unsettled_approved() if journal else []
            report = None
            if journal is not None:
                # The X report first: the bridge asks the terminal for its totals (a
                # moment; the panel waits at most REPORT_WAIT for it).
                asked: Any
                try:
                    asked = self.listener.x_report().result(timeout=REPORT_WAIT)
                except Exception as exc:
                    asked = exc if str(exc) else "the terminal did not answer in time"
                report = presenter.panel_report(asked, journal)
        except (sqlite3.Error, JournalError) as exc:
            messagebox.showerror("Submit batch", f"The journal cannot be read: {exc}",
                                 parent=self.root)
            return
        if not messagebox.askyesno("Submit batch", presenter.batch_question(unsettled, report),
                                   parent=self.root):
            return
        log.info("panel: submitting the batch")
        self._batch = self.listener.submit_batch()

    def _check_batch(self) -> None:
        future = self._batch
        if future is None or not future.done():
            return
        self._batch = None
        exc = future.exception()
        if exc is None:
            messagebox.showinfo("Batch submitted", presenter.batch_done(future.result()),
                                parent=self.root)
        else:
            text = exc.message if isinstance(exc, errors.PosBridgeError) else str(exc)
            log.warning("panel: batch not submitted: %s", text)
            messagebox.showerror("Batch not submitted", text, parent=self.root)
        self._refresh_list()

    def _selected_payment(self) -> Any:
        selection = self.tree.selection()
        return self._payments.get(selection[0]) if len(selection) == 1 else None

    def resolve(self) -> None:
        """Settle the selected payment by hand: ask paid or not paid and a reason, then post
        it to the bridge (/admin/ResolvePayment, as posbridge journal resolve does) in a
        thread; the tick shows the answer."""
        payment = self._selected_payment()
        status = self.listener.status()
        if self._resolve is not None or not presenter.resolvable(status, payment):
            return
        dialog = tk.Toplevel(self.root)
        dialog.title(f"Resolve {payment.ref}")
        dialog.transient(self.root)
        body = ttk.Frame(dialog, padding=12)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text=presenter.resolve_question(payment), wraplength=460,
                  justify="left").pack(anchor="w")
        outcome = tk.StringVar(value="")
        for value, text in (("paid", "Paid: the customer paid"),
                            ("not_paid", "Not paid: the customer did not pay")):
            self._add(f"resolve_{value}", ttk.Radiobutton(
                body, text=text, value=value, variable=outcome)).pack(anchor="w", pady=(6, 0))
        ttk.Label(body, text="Reason (required):").pack(anchor="w", pady=(8, 0))
        reason = tk.StringVar()
        entry = self._add("resolve_reason", ttk.Entry(body, textvariable=reason, width=60))
        entry.pack(anchor="w", fill="x")
        problem = ttk.Label(body, foreground=COLOURS[presenter.RED], wraplength=460)
        problem.pack(anchor="w", pady=(4, 0))
        buttons = ttk.Frame(body)
        buttons.pack(anchor="e", pady=(8, 0))
        address = status.address

        def done(*_args: object) -> None:
            try:
                resolution = presenter.read_resolution(payment.ref, outcome.get(),
                                                       reason.get())
            except presenter.FormError as exc:
                problem.configure(text=str(exc))
                return
            self._close_dialog(dialog)
            import getpass

            by = getpass.getuser()
            log.info("panel: settling %s by hand as %s", resolution.ref,
                     "paid" if resolution.paid else "not paid")
            future: concurrent.futures.Future[tuple[bool, str]] = concurrent.futures.Future()
            self._resolve = future

            def work() -> None:
                try:
                    future.set_result(presenter.settle_by_hand(address, resolution, by))
                except BaseException as exc:  # shown, never lost in the thread
                    future.set_exception(exc)

            threading.Thread(target=work, name="resolve", daemon=True).start()

        self._add("resolve_ok", ttk.Button(buttons, text="Settle by hand", command=done)
                  ).pack(side="right")
        ttk.Button(buttons, text="Cancel", command=lambda: self._close_dialog(dialog)).pack(
            side="right", padx=(0, 6))
        dialog.protocol("WM_DELETE_WINDOW", lambda: self._close_dialog(dialog))
        entry.bind("<Return>", done)
        entry.focus_set()
        dialog.grab_set()  # one resolution at a time: the panel waits for this dialog

    def _close_dialog(self, dialog: tk.Toplevel) -> None:
        for name in ("resolve_paid", "resolve_not_paid", "resolve_reason", "resolve_ok"):
            self.widgets.pop(name, None)
        dialog.destroy()

    def _check_resolve(self) -> None:
        future = self._resolve
        if future is None or not future.done():
            return
        self._resolve = None
        exc = future.exception()
        ok, text = future.result() if exc is None else (False, str(exc))
        if ok:
            messagebox.showinfo("Settled by hand", text, parent=self.root)
        else:
            log.warning("panel: not settled by hand: %s", text)
            messagebox.showerror("Not settled by hand", text, parent=self.root)
        self._refresh_list()

    def open_log_folder(self) -> None:
        folder = self.log_dir
        try:
            if sys.platform == "win32":
                os.startfile(folder)  # type: ignore[attr-defined]
            else:
                opener = "open" if sys.platform == "darwin" else "xdg-open"
                # The system's file manager, with the system's libraries (not the bundle's).
                proc = subprocess.Popen([opener, str(folder)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True,
                                        env=about.system_program_env())
                threading.Thread(target=proc.wait, daemon=True).start()  # reap it
        except OSError as exc:
            messagebox.showinfo("Log folder", f"The log is in\n{folder}\n\n(It could not be "
                                f"opened here: {exc.strerror or exc})", parent=self.root)

    def support_bundle(self) -> None:
        """Ask where to save the support bundle, then make it in a thread (it asks the
        listener for /health and lists the USB devices, which may take a few seconds)."""
        if self._bundle is not None:
            return
        path = filedialog.asksaveasfilename(
            parent=self.root, title="Save the support bundle", defaultextension=".zip",
            initialfile=default_output().name, filetypes=[("Zip archive", "*.zip")])
        if not path:
            return
        status = self.listener.status()
        log.info("panel: making the support bundle %s", path)
        future: concurrent.futures.Future[BundleResult] = concurrent.futures.Future()
        journal, log_file = self._journal_file(), self.log_dir / "posbridge.log"

        def work() -> None:
            try:
                future.set_result(make_bundle(Path(path), journal=journal, log_file=log_file,
                                              settings_file=self.settings_path,
                                              url=status.address or None))
            except Exception as exc:
                future.set_exception(exc)

        self._bundle = future
        threading.Thread(target=work, name="support-bundle", daemon=True).start()

    def _check_bundle(self) -> None:
        future = self._bundle
        if future is None or not future.done():
            return
        self._bundle = None
        exc = future.exception()
        if exc is not None:
            log.error("panel: the support bundle failed: %s", exc)
            messagebox.showerror("Support bundle", f"The support bundle could not be made: "
                                 f"{exc}", parent=self.root)
            return
        result = future.result()
        notes = "".join(f"\n- {note}" for note in result.notes)
        messagebox.showinfo("Support bundle", f"Saved {result.path} ({len(result.members)} "
                            "files). It holds no token or secret; send it to your help desk."
                            + (f"\n\nNot included:{notes}" if notes else ""),
                            parent=self.root)

    def close(self, ask: bool = True) -> None:
        """Close the window; a running listener is stopped first (asking if a payment is
        on the terminal, unless the program was told to end)."""
        if self.listener.alive:
            question = presenter.stop_question(self._fresh_status()) if ask else None
            if question and not messagebox.askyesno(
                    "Close posbridge?", question, icon="warning", default="no",
                    parent=self.root):
                return
            log.info("panel: closing; stopping the listener first")
            self.listener.stop()
        self._closing = True

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signalled = True

    # -- the tick ---------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            if self._signalled:
                self._signalled = False
                self.close(ask=False)
            self._drain_log()
            self._check_batch()
            self._check_bundle()
            self._check_resolve()
            state = self.listener.status().state
            self._ticks += 1
            if state != self._last_state or self._ticks % LIST_EVERY == 0:
                self._last_state = state
                self._refresh_list()
            self._apply()
            if self._closing and not self.listener.alive:
                self._finish()
                return
        except Exception:  # a bug here must not freeze the panel: log it and carry on
            log.exception("panel: refreshing the window failed")
        self.root.after(TICK_MS, self._tick)

    def _finish(self) -> None:
        self._save_settings()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._drain_log()
        self.root.destroy()

    def _apply(self, force: bool = False) -> None:
        status = self.listener.status()
        view = presenter.present(status, time.time(), self.selected())
        self.root.title(view.title)
        if view.banner:
            self.banner.configure(text=view.banner)
            self.banner.grid()
        else:
            self.banner.grid_remove()
        for name, light in (("listener", view.listener), ("terminal", view.terminal),
                            ("payment", view.payment)):
            lamp, text = self.lamps[name]
            lamp.configure(foreground=COLOURS[light.colour])
            text.configure(text=light.text)
        self.terminal_detail.configure(text=view.terminal_detail)
        self.link_history.configure(text="\n".join(view.link_history))
        self._enable("start", view.start_enabled)
        self._enable("stop", view.stop_enabled)
        self._enable("batch", view.batch_enabled and self._batch is None)
        self._enable("resolve", self._resolve is None and presenter.resolvable(
            status, self._selected_payment()))
        for name in ("host", "port", "refresh"):
            self._enable(name, view.form_enabled)
        self.widgets["terminal"].configure(state="readonly" if view.form_enabled else "disabled")
        self._enable("address", view.form_enabled and self.selected().takes_address)
        self._enable("simulator_window", view.form_enabled and self.selected().simulated)
        self._write_state()

    def _enable(self, name: str, enabled: bool) -> None:
        self.widgets[name].state(["!disabled"] if enabled else ["disabled"])

    def _drain_log(self) -> None:
        lines: list[str] = []
        with contextlib.suppress(queue.Empty):
            while len(lines) < 500:
                lines.append(self.log_lines.get_nowait().getMessage())
        if not lines:
            return
        text = self.log_text
        at_end = text.yview()[1] >= 0.999
        text.configure(state="normal")
        text.insert("end", "\n".join(lines) + "\n")
        excess = int(text.index("end-1c").split(".")[0]) - LOG_PANE_LINES
        if excess > 0:
            text.delete("1.0", f"{excess + 1}.0")
        text.configure(state="disabled")
        if at_end:
            text.see("end")

    # -- the payment list -------------------------------------------------------------

    def _journal_file(self) -> Path:
        running = self.listener.status().journal
        if running:
            return Path(running)
        return Path(self.settings.journal) if self.settings.journal else default_path()

    def _open_journal(self) -> Journal | None:
        path = self._journal_file()
        if self._journal is not None and self._journal_path == path:
            return self._journal
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if not path.exists():
            self._list_note = "no payments yet"
            return None
        try:
            self._journal = Journal(path, readonly=True)
        except (sqlite3.Error, OSError) as exc:
            self._list_note = f"journal not readable: {exc}"
            return None
        self._journal_path = path
        return self._journal

    def _refresh_list(self) -> None:
        journal = self._open_journal()
        payments = []
        if journal is not None:
            try:
                payments = journal.recent(LIST_LIMIT,
                                          ref_contains=presenter.reference_filter(
                                              self.filter.get()))
                self._list_note = ""
            except sqlite3.Error as exc:
                self._list_note = f"journal not readable: {exc}"
                journal.close()
                self._journal = None
        rows = presenter.payment_rows(payments, datetime.now().astimezone())
        self._payments = {p.ref: p for p in payments}
        if not payments and journal is not None:
            self._list_note = "no payment matches" if self.filter.get().strip() else \
                "no payments yet"
        self.list_note.configure(text=self._list_note)
        if rows == self._rows:
            return
        self._rows = rows
        tree = self.tree
        selected = tree.selection()
        tree.delete(*tree.get_children())
        for row in rows:
            tree.insert("", "end", iid=row.ref, values=row.values, tags=(row.tag,))
        keep = [ref for ref in selected if tree.exists(ref)]
        if keep:
            tree.selection_set(keep)

    # -- the test hook ----------------------------------------------------------------

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        self.root.update_idletasks()
        state = {
            "title": self.root.title(),
            "banner": self.banner.cget("text") if self.banner.winfo_ismapped() else "",
            "form_error": self.form_error.cget("text"),
            **{name: text.cget("text") for name, (_lamp, text) in self.lamps.items()},
            "terminal_detail": self.terminal_detail.cget("text"),
            "link_history": self.link_history.cget("text"),
            "listener_state": self.listener.status().state,
            "rows": [self.tree.item(iid, "values") for iid in self.tree.get_children()],
            "enabled": {name: not w.instate(["disabled"]) for name, w in self.widgets.items()
                        if hasattr(w, "instate")},
            "widgets": {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(),
                               w.winfo_height()] for name, w in self.widgets.items()
                        if w.winfo_ismapped()},
            "log_tail": self.log_text.get("1.0", "end-1c").splitlines()[-40:],
        }
        text = json.dumps(state, indent=1, default=str)
        if text == self._shown_state:
            return
        self._shown_state = text
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.state_file)
