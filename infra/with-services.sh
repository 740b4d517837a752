#!/usr/bin/env bash
# Runs a command with DynamoDB Local (in memory), the SES emulator and the
# SQS server (on SES_PORT+1) up,
# and stops them afterwards whatever the command's outcome.
#   infra/with-services.sh DIR DDB_PORT SES_PORT -- command...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1 ddb=$2 ses=$3
shift 3
[ "${1:-}" = "--" ] && shift
"$here/services.sh" stop "$dir" 2>/dev/null || true
trap '"$here/services.sh" stop "$dir"' EXIT
"$here/services.sh" start "$dir" "$ddb" "$ses" --in-memory
export PK_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb"
export PK_SES_ENDPOINT="http://127.0.0.1:$ses"
export PK_SQS_ENDPOINT="http://127.0.0.1:$((ses + 1))"
export PK_RIE="$here/../.tools/bin/aws-lambda-rie"
# Tests that need these services fail, rather than skip, when they are missing.
export PK_REQUIRE_SERVICES=1
"$@"
