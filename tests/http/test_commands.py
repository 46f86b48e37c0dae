"""One table of the commands (http/commands.py: the reference's five and RefundPayment)
feeds the routes, the OpenAPI document, the 404 message and the Python client, through a
real server."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec

from posbridge import client
from posbridge.http import commands, openapi
from rig import bridge, create_body, run

PATHS = ["/CreatePayment", "/CancelPayment", "/QueryPayment", "/VoidPayment", "/SubmitBatch",
         "/RefundPayment"]


def test_the_table_is_the_references_five_commands_and_refunds() -> None:
    assert [c.path for c in commands.COMMANDS] == PATHS
    assert [c.method for c in commands.COMMANDS] == [
        "create_payment", "cancel_payment", "query_payment", "void_payment", "submit_batch",
        "refund_payment"]
    assert list(openapi.build_spec()["paths"]) == [*PATHS, "/events"]
    assert {c.method: c.path for c in commands.COMMANDS} == client._PATH
    assert commands.endpoints_sentence() == (
        "POST /CreatePayment, /CancelPayment, /QueryPayment, /VoidPayment, /SubmitBatch and "
        "/RefundPayment")


def test_the_served_routes_404_message_and_client_follow_the_table(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            r = await b.post("/NoSuchCommand", {})
            assert r.status_code == 404
            assert commands.endpoints_sentence() in r.json()["message"]
            # Each command's route answers with the table's message; none is missing.
            answers = {}
            async with client.AsyncClient(b.url) as pos:
                answers["CreatePayment"] = await pos.create_payment("1.00", "tbl-1")
                answers["CancelPayment"] = await pos.cancel_payment()
                answers["QueryPayment"] = await pos.query_payment("tbl-1")
                await b.post("/CreatePayment", create_body("tbl-2"))
                await b.wait_status("tbl-2", "approved")
                answers["VoidPayment"] = await pos.void_payment("tbl-2")
                answers["SubmitBatch"] = await pos.submit_batch()
                await b.post("/CreatePayment", create_body("tbl-3"))
                await b.wait_status("tbl-3", "approved")
                answers["RefundPayment"] = await pos.refund_payment("tbl-3", "tbl-credit-1",
                                                                    "0.50")
            for command in commands.COMMANDS:
                assert answers[command.name]["message"] == command.message, command.name
                msgspec.convert(answers[command.name], command.response)

    run(go())


def _module_imports(root: Path) -> dict[str, set[str]]:
    """posbridge's modules and the posbridge modules each imports at module level (an import
    inside a function runs later and cannot make a cycle at import time)."""
    graph: dict[str, set[str]] = {}
    for file in root.rglob("*.py"):
        parts = list(file.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        package = parts if is_package else parts[:-1]
        found: set[str] = set()
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = found
    return {name: {t for t in targets if t in graph and t != name}
            for name, targets in graph.items()}


def test_the_http_modules_import_no_cycle() -> None:
    graph = _module_imports(Path(commands.__file__).resolve().parent.parent)
    http = {name for name in graph if name.startswith("posbridge.http.")}
    assert {"posbridge.http.access", "posbridge.http.server", "posbridge.http.responses",
            "posbridge.http.commands"} <= http
    # Depth-first search for a cycle through any http module.
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in graph[name]:
            if target == "posbridge.http":
                continue  # the package's __init__ re-exports create_app; it is no module here
            assert state.get(target) != 1, " -> ".join([*path, name, target])
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in sorted(http):
        if name not in state:
            visit(name, [])
