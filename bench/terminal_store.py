"""What one change costs the Java terminal's FileStore as its records grow: it rewrites the
whole --state file (and fsyncs it) on each change, so the cost grows with the records.

    .venv/bin/python bench/terminal_store.py

Needs Maven and a JDK (as make test-java). Prints one line per size; docs/terminal-sdk.md
quotes the figures.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "terminal" / "core"


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        classpath_file = Path(folder) / "classpath.txt"
        subprocess.run(["mvn", "-B", "-q", "-f", str(ROOT / "terminal" / "pom.xml"), "-pl",
                        "core", "test-compile", "dependency:build-classpath",
                        f"-Dmdep.outputFile={classpath_file}"], check=True)
        classpath = ":".join([str(CORE / "target" / "classes"),
                              str(CORE / "target" / "test-classes"),
                              classpath_file.read_text().strip()])
        return subprocess.run(["java", "-cp", classpath,
                               "dev.posbridge.terminal.engine.FileStoreBench"]).returncode


if __name__ == "__main__":
    sys.exit(main())
