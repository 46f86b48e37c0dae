"""Print the Java tests' closing line from Surefire's reports: `java: N passed, N failed`.

`make test` runs Maven quietly (failures still print); this says what passed, and the jqwik
properties' tries, which Maven's quiet mode does not show.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TERMINAL = Path(__file__).resolve().parent


def main() -> int:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    tries = 0
    for report in sorted(TERMINAL.glob("*/target/surefire-reports/TEST-*.xml")):
        suite = ET.parse(report).getroot()
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    for output in TERMINAL.glob("*/target/surefire-reports/*-output.txt"):
        tries += sum(int(n) for n in re.findall(r"^tries = (\d+)", output.read_text(), re.M))
    if not counts["tests"]:
        print("java: no Surefire reports found", file=sys.stderr)
        return 1
    failed = counts["failures"] + counts["errors"]
    print(f"java: {counts['tests'] - failed - counts['skipped']} passed, {failed} failed, "
          f"{counts['skipped']} skipped ({tries} jqwik tries)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
