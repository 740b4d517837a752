#!/usr/bin/env bash
# `make dev`: DynamoDB Local (data kept in .local/dev/dynamodb), the SES
# emulator, the SQS server, the console's identity provider and the local
# gateway in the foreground. Ctrl-C stops them all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ddb=$1 ses=$2
dir="$root/.local/dev"
idp=$((ses + 2))
"$here/services.sh" stop "$dir" 2>/dev/null || true
[ -f "$dir/idp.pid" ] && kill "$(cat "$dir/idp.pid")" 2>/dev/null || true
trap '"$here/services.sh" stop "$dir"; [ -f "$dir/idp.pid" ] && kill "$(cat "$dir/idp.pid")" 2>/dev/null' EXIT
"$here/services.sh" start "$dir" "$ddb" "$ses"
# The console's identity provider (the user pool's stand-in), one user per
# group; it prints them.
node "$here/idp/idp.mjs" "$idp" http://127.0.0.1:3000/console/callback >"$dir/idp.log" 2>&1 &
echo $! >"$dir/idp.pid"
for _ in $(seq 1 50); do grep -q "^idp: user" "$dir/idp.log" 2>/dev/null && break; sleep 0.2; done
grep "^idp:" "$dir/idp.log" || { echo "the identity provider did not start; see $dir/idp.log" >&2; exit 1; }
echo "SES inbox:  http://localhost:$ses  (JSON: http://localhost:$ses/store)"
echo "API:        http://localhost:3000  (building functions, then ready)"
echo "Console:    http://127.0.0.1:3000/console/login  (sign in as a user above)"
cd "$root"
go run ./infra/gateway -dynamodb "http://127.0.0.1:$ddb" -ses "http://127.0.0.1:$ses" -sqs "http://127.0.0.1:$((ses + 1))" \
  -env "CONSOLE_ISSUER=http://localhost:$idp" -env CONSOLE_CLIENT_ID=privacykeeper-console ${GATEWAY_FLAGS:-}
