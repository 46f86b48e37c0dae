"""/metrics end to end: a real bridge process with a token, scraped over HTTP, first through
prometheus_client's own parser and then by a real Prometheus server (Debian's package), while
real payments run against the simulator process. The alert rules in packaging/prometheus
go through ``promtool check`` and ``promtool test rules``.

Prometheus and promtool are skipped where they are missing, except in CI (POSBRIDGE_CI=1),
where .ci/run installs them and a missing one fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from procs import Proc, Stack
from rig import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging" / "prometheus"
TOKEN = "metrics-test-token-0123456789abcdef"
CI = bool(os.environ.get("POSBRIDGE_CI"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is needed (apt-get install prometheus)"
        if CI:
            pytest.fail(f"{reason}; POSBRIDGE_CI=1 does not allow skipping")
        pytest.skip(reason)
    return path


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    s = Stack(tmp_path, customer_delay=0.5, bridge_args=("--token-file", str(token_file)),
              client_headers={"Authorization": f"Bearer {TOKEN}"})
    with s.running():
        yield s


def create(ref: str, amount: str = "1.00") -> dict[str, str]:
    return {"amount": amount, "retrieval_reference_number": ref, "condition_code": "82"}


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> Samples:
    r = stack.http.get(stack.url + "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` that has at least ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_metrics_follow_payments_and_the_link(stack: Stack) -> None:
    # The same access rules as the API: no token, no metrics; a foreign Host, no metrics.
    bare = httpx.get(stack.url + "/metrics")
    assert bare.status_code == 401 and bare.json()["error_code"] == "UNAUTHORIZED"
    rebound = stack.http.get(stack.url + "/metrics", headers={"Host": "evil.example"})
    assert rebound.status_code == 403

    before = scrape(stack)
    assert value(before, "posbridge_terminal_connected") == 1
    assert value(before, "posbridge_terminal_state", state="connected") == 1
    assert value(before, "posbridge_terminal_link_events_total", kind="up", reason="") == 1
    assert value(before, "posbridge_info", version=_version()) == 1
    assert value(before, "posbridge_payments_not_final", status="pending") == 0
    writes_before = value(before, "posbridge_journal_write_duration_seconds_count")

    # A payment in progress is counted as not final, with its age, until it is approved.
    assert stack.post("/CreatePayment", create("m-1")).status_code == 200
    during = scrape(stack)
    assert total(during, "posbridge_payments_not_final") == 1
    assert value(during, "posbridge_payment_not_final_oldest_age_seconds") > 0
    assert value(during, "posbridge_commands_total", command="CreatePayment", outcome="ok",
                 error_code="") == 1
    stack.wait_status("m-1", "approved")
    # A refused command: a second CreatePayment with the same ref and another amount.
    conflict = stack.post("/CreatePayment", create("m-1", "2.00"))
    assert conflict.status_code == 409

    after = scrape(stack)
    assert total(after, "posbridge_payments_not_final") == 0
    assert value(after, "posbridge_payment_not_final_oldest_age_seconds") == 0
    assert value(after, "posbridge_commands_total", command="CreatePayment",
                 outcome="refused", error_code="REFERENCE_CONFLICT") == 1
    queries = value(after, "posbridge_commands_total", command="QueryPayment", outcome="ok",
                    error_code="")
    assert queries >= 1
    assert value(after, "posbridge_command_duration_seconds_count",
                 command="QueryPayment") == queries
    assert value(after, "posbridge_command_duration_seconds_bucket", command="CreatePayment",
                 le="+Inf") == 2
    # received -> pending -> approved: at least three journal writes, none failed.
    assert value(after, "posbridge_journal_write_duration_seconds_count") >= writes_before + 3
    assert value(after, "posbridge_journal_write_failures_total") == 0

    # The terminal goes away: the link's state and a counted loss with its reason.
    stack.sim.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        down = scrape(stack)
        if value(down, "posbridge_terminal_connected") == 0 and \
                total(down, "posbridge_terminal_link_events_total", kind="open_failed"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the link never showed as down:\n{stack.bridge.text()}")
    assert total(down, "posbridge_terminal_link_events_total", kind="down") == 1
    assert value(down, "posbridge_terminal_link_events_total", kind="open_failed",
                 reason="unavailable") >= 1
    assert value(down, "posbridge_terminal_state", state="disconnected") == 1
    history = stack.health()
    assert history is not None
    events = [e["event"] for e in history["terminal"]["history"]]
    # Newest first: reconnects failing, the loss, and before it the link coming up (the very
    # first attempts may have failed too, if the bridge started before the simulator).
    assert events[0] == "open_failed"
    lost = events.index("down")
    assert events[lost + 1:lost + 3] == ["up", "opened"]


def _version() -> str:
    from posbridge import __version__

    return __version__


def test_a_prometheus_server_scrapes_the_bridge(stack: Stack, tmp_path: Path) -> None:
    """Debian's Prometheus, with the scrape configuration of docs/operations.md (a bearer
    token from a file), sees the bridge's counters move as payments run."""
    prometheus = _tool("prometheus")
    port = free_port()
    token_file = tmp_path / "scrape.token"
    token_file.write_text(TOKEN)
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PACKAGING / "posbridge-alerts.yml")],
        "scrape_configs": [{
            "job_name": "posbridge",
            "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
            "static_configs": [{"targets": [f"127.0.0.1:{stack.port}"]}],
        }],
    }))
    server = Proc([], tmp_path / "prometheus.log")
    with open(server.log, "wb") as out:
        server.p = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr: str) -> float | None:
        try:
            r = httpx.get(f"{api}/query?query={urllib.parse.quote(expr)}", timeout=2)
        except httpx.TransportError:
            return None
        result = r.json()["data"]["result"] if r.status_code == 200 else []
        return float(result[0]["value"][1]) if result else None

    def wait_for(expr: str, want: float, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = query(expr)
            if got == want:
                return
            time.sleep(0.25)
        raise AssertionError(f"{expr} = {got}, wanted {want}\n{server.text()[-3000:]}")

    try:
        wait_for('up{job="posbridge"}', 1)
        wait_for("posbridge_terminal_connected", 1)
        wait_for('sum(posbridge_commands_total{command="CreatePayment"}) or vector(0)', 0)
        for n in range(3):
            ref = f"prom-{n}"
            assert stack.post("/CreatePayment", create(ref)).status_code == 200
            stack.wait_status(ref, "approved")
        wait_for('sum(posbridge_commands_total{command="CreatePayment",outcome="ok"})', 3)
        wait_for("sum(posbridge_payments_not_final)", 0)
        # The rules loaded and evaluate: none of the four alerts is firing on a healthy till.
        rules = httpx.get(f"{api}/rules", timeout=2).json()["data"]["groups"]
        names = {rule["name"] for group in rules for rule in group["rules"]}
        assert names == {"PosbridgeDown", "PosbridgeTerminalDown", "PosbridgePaymentNotFinal",
                         "PosbridgeJournalWriteFailures"}
        wait_for('count(ALERTS{alertstate="firing"}) or vector(0)', 0)
    finally:
        server.stop()


def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = PACKAGING / "posbridge-alerts.yml"
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "4 rules found" in checked.stdout
    # Each alert fires when it should and not before (the cases are in the test file).
    tested = subprocess.run([promtool, "test", "rules", "posbridge-alerts.test.yml"],
                            cwd=PACKAGING, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # The example scrape configuration, with its token file where it says.
    token = tmp_path / "posbridge.token"
    token.write_text(TOKEN)
    config = tmp_path / "prometheus.yml"
    config.write_text((PACKAGING / "prometheus.yml").read_text()
                      .replace("/etc/prometheus/posbridge.token", str(token)))
    shutil.copy(rules, tmp_path / rules.name)
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_grafana_dashboard_uses_only_metrics_the_bridge_serves(stack: Stack) -> None:
    dashboard = json.loads((ROOT / "packaging" / "grafana" / "posbridge.json").read_text())
    r = stack.http.get(stack.url + "/metrics")
    # Every family the bridge declares, observed yet or not (a counter's name without _total).
    served = {family.name for family in text_string_to_metric_families(r.text)}
    used = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in re.findall(r"posbridge_[a-z_]+", target["expr"]):
                used.add(re.sub(r"_(total|bucket|count|sum)$", "", name))
    assert used, "the dashboard queries nothing"
    assert used <= served, f"the dashboard asks for metrics the bridge lacks: {used - served}"
