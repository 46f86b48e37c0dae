"""One full payment from Python with posbridge.client.

    python examples/pay.py 12.50 invoice-1001      (bridge: $POSBRIDGE_URL, default localhost)

Exit status: 0 paid, 3 not paid, 1 an error.
"""

from __future__ import annotations

import os
import sys
import time

from posbridge.client import ApiError, Client


def main() -> int:
    amount = sys.argv[1] if len(sys.argv) > 1 else "1.00"
    ref = sys.argv[2] if len(sys.argv) > 2 else f"python-example-{int(time.time())}"
    url = os.environ.get("POSBRIDGE_URL", "http://localhost:8080")
    with Client(url, token=os.environ.get("POSBRIDGE_TOKEN")) as pos:
        try:
            pos.create_payment(amount, ref, condition_code="82")
        except ApiError as exc:
            if exc.code != "TERMINAL_TIMEOUT":
                print(f"not started: {exc}")  # e.g. TERMINAL_BUSY: try again later
                return 1
            # The outcome is unknown: keep asking about the same reference, never pay again.
        payment = pos.wait_final(ref, poll=0.5,
                                 progress=lambda answer: print(f"{ref}: {answer['status']}"))
    paid = payment["transaction_status"] == "00"
    print(f"{ref}: {'PAID' if paid else 'NOT PAID'} ({payment['status']}, "
          f"transaction {payment['transaction_id']})")
    return 0 if paid else 3


if __name__ == "__main__":
    sys.exit(main())
