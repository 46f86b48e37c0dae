#!/bin/sh
# One full payment with curl: create it, then query it until it is final.
# Usage: examples/curl.sh [AMOUNT] [REFERENCE]     (bridge: $POSBRIDGE_URL, default localhost)
# Exit status: 0 paid, 3 not paid, 1 an error.
set -eu
URL="${POSBRIDGE_URL:-http://localhost:8080}"
AMOUNT="${1:-1.00}"
REF="${2:-curl-example-$(date +%s)}"
AUTH=""
[ -n "${POSBRIDGE_TOKEN:-}" ] && AUTH="Authorization: Bearer $POSBRIDGE_TOKEN"

post() {  # post PATH BODY: print the JSON answer (also for errors)
    curl -sS -X POST "$URL$1" -H "x-api-version: v1" -H "Content-Type: application/json" \
        ${AUTH:+-H "$AUTH"} -d "$2"
}
field() {  # field NAME: read one field of the JSON on standard input
    python3 -c "import json, sys; print(json.load(sys.stdin).get('$1'))"
}

answer=$(post /CreatePayment "{\"amount\": \"$AMOUNT\", \"retrieval_reference_number\": \"$REF\", \"condition_code\": \"82\"}")
echo "$answer"
if [ "$(echo "$answer" | field success)" != "True" ]; then
    # 504 TERMINAL_TIMEOUT: the outcome is unknown; keep querying, never pay again.
    [ "$(echo "$answer" | field error_code)" = "TERMINAL_TIMEOUT" ] || exit 1
fi

while :; do
    answer=$(post /QueryPayment "{\"retrieval_reference_number\": \"$REF\"}")
    status=$(echo "$answer" | field status)
    case "$status" in
        pending|unknown) sleep 0.5 ;;
        *) break ;;
    esac
done
echo "$answer"
[ "$(echo "$answer" | field transaction_status)" = "00" ] && exit 0 || exit 3
