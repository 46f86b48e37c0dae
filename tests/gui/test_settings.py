"""The panel's remembered settings and its list of terminals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posbridge.gui import settings as gui_settings
from posbridge.gui.choices import (
    NETWORK,
    SIMULATOR,
    TerminalOption,
    option_for,
    terminal_options,
)
from posbridge.gui.settings import Settings, load, save


def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config" / "gui.json"
    chosen = Settings(port=8099, terminal="tcp://10.0.0.7:9100", address="tcp://10.0.0.7:9100",
                      start_minimized=True, autostart=True, customer_delay=0.5)
    save(path, chosen)
    assert load(path) == (chosen, [])
    assert not path.with_name("gui.json.tmp").exists()


def test_missing_file_is_the_defaults(tmp_path: Path) -> None:
    assert load(tmp_path / "none.json") == (Settings(), [])


def test_a_broken_file_never_stops_the_panel(tmp_path: Path) -> None:
    path = tmp_path / "gui.json"
    path.write_text("{not json")
    settings, notes = load(path)
    assert settings == Settings() and "not readable" in notes[0]
    path.write_text("[1, 2]")
    assert "not a JSON object" in load(path)[1][0]


def test_each_bad_value_falls_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "gui.json"
    path.write_text(json.dumps({"port": "eighty", "host": "localhost", "autostart": 1,
                                "customer_delay": 1, "unknown": True}))
    settings, notes = load(path)
    assert (settings.port, settings.host, settings.autostart, settings.customer_delay) == (
        8080, "localhost", False, 1.0)
    assert len(notes) == 2 and "port 'eighty' is not a int" in notes[0]


def test_default_path_is_in_the_user_config_folder(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert gui_settings.default_path() == tmp_path / "posbridge" / "gui.json"


def test_terminal_list_detected_first_then_network_then_simulator() -> None:
    usb = TerminalOption("PAX A920 on USB (serial 1234)", "usb:2FB8:2D01")
    assert terminal_options([]) == [NETWORK, SIMULATOR]
    assert terminal_options([usb]) == [usb, NETWORK, SIMULATOR]
    # This machine has no USB bus and (in CI) no serial ports: what is detected comes first.
    found = terminal_options()
    assert found[-2:] == [NETWORK, SIMULATOR]
    assert all(o.spec.startswith(("usb:", "serial:")) for o in found[:-2])


def test_a_saved_terminal_not_found_now_stays_choosable() -> None:
    options = terminal_options([], saved="usb:2FB8:2D01")
    assert options[0] == TerminalOption("usb:2FB8:2D01 (not found now)", "usb:2FB8:2D01")
    assert option_for("usb:2FB8:2D01", options) is options[0]
    assert terminal_options([], saved="tcp://10.0.0.7:9100") == [NETWORK, SIMULATOR]
    assert option_for("tcp://10.0.0.7:9100", options) is NETWORK
    assert option_for("simulator", options) is SIMULATOR
