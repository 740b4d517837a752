#!/usr/bin/env bash
# `make dev`: DynamoDB Local (data kept in .local/dev/dynamodb), the SES
# emulator, the SQS server and the local gateway in the foreground. Ctrl-C
# stops them all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ddb=$1 ses=$2
dir="$root/.local/dev"
"$here/services.sh" stop "$dir" 2>/dev/null || true
trap '"$here/services.sh" stop "$dir"' EXIT
"$here/services.sh" start "$dir" "$ddb" "$ses"
echo "SES inbox:  http://localhost:$ses  (JSON: http://localhost:$ses/store)"
echo "API:        http://localhost:3000  (building functions, then ready)"
cd "$root"
go run ./infra/gateway -dynamodb "http://127.0.0.1:$ddb" -ses "http://127.0.0.1:$ses" -sqs "http://127.0.0.1:$((ses + 1))" ${GATEWAY_FLAGS:-}
