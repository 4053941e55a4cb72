#!/usr/bin/env bash
# The compose stack as an operator runs it, end to end:
#   build the images (orchestrator, backup-agent) -> up (PostgreSQL, two orchestrator replicas,
#   the demo app, the postgres-agent sidecar) -> healthy -> register the demo app through the
#   JSON API -> Test now (on the other replica) -> a verified copy in the volume whose sha256 is
#   the run's -> the same for postgres-agent, whose copy is a pg_dump custom-format archive ->
#   restart the stack -> the demo app, its copy and its history are still there -> down -v.
# Prints each step's time and the image sizes. Without a Docker engine it skips, except under
# CI=true, where that is a failure. Talks only to 127.0.0.1 (the published ports).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step_start=$started
step() {
  local now; now=$(date +%s)
  echo "-- smoke [+$((now - step_start))s, total $((now - started))s] $1"
  step_start=$now
}
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    fail "no Docker engine answers (docker info failed): in CI the smoke test never skips"
  fi
  echo "smoke: SKIPPED: no Docker engine answers (start dockerd, or run .ci/run which does)"
  exit 0
fi
docker compose version >/dev/null 2>&1 || fail "docker compose (v2) is missing"
for tool in curl jq; do command -v "$tool" >/dev/null || fail "$tool is missing"; done

step "base images"
# Official images when they can be pulled, local stand-ins otherwise (docker/stand-ins.sh).
while IFS='=' read -r key value; do
  export "$key=$value"
done < <(bash docker/stand-ins.sh)
echo "builder: $RUST_IMAGE; runtime: $RUNTIME_IMAGE; agent runtime: $AGENT_RUNTIME_IMAGE;" \
  "PostgreSQL: $POSTGRES_IMAGE"

step "image build"
export ORCHESTRATOR_IMAGE=backup-orchestrator:smoke AGENT_IMAGE=backup-agent:smoke
build_args=(--build-arg RUST_IMAGE="$RUST_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE"
  --build-arg AGENT_RUNTIME_IMAGE="$AGENT_RUNTIME_IMAGE" --build-arg CARGO_PROFILE="${CARGO_PROFILE:-release}")
echo "cargo profile: ${CARGO_PROFILE:-release}"
build_start=$(date +%s)
docker build -q -f docker/Dockerfile "${build_args[@]}" -t "$ORCHESTRATOR_IMAGE" . >/dev/null
echo "orchestrator image built in $(($(date +%s) - build_start))s"
# The same builder stage: only the agent's runtime layers are new.
build_start=$(date +%s)
docker build -q -f docker/Dockerfile "${build_args[@]}" --target agent -t "$AGENT_IMAGE" . >/dev/null
echo "agent image built in $(($(date +%s) - build_start))s"
size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1000000}'; }
echo "image sizes: orchestrator $(size "$ORCHESTRATOR_IMAGE"); runtime base $(size "$RUNTIME_IMAGE");" \
  "agent $(size "$AGENT_IMAGE"); agent runtime base $(size "$AGENT_RUNTIME_IMAGE");" \
  "builder $(size "$RUST_IMAGE"); PostgreSQL $(size "$POSTGRES_IMAGE")"

step "stack up"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ORCHESTRATOR_PORT; ORCHESTRATOR_PORT=$(free_port)
export ORCHESTRATOR_2_PORT; ORCHESTRATOR_2_PORT=$(free_port)
export SECRET_KEY; SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ADMIN_PASSWORD; ADMIN_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
export DEMO_BACKUP_TOKEN; DEMO_BACKUP_TOKEN=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
export DEMO_AGENT_TOKEN; DEMO_AGENT_TOKEN=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
export POSTGRES_PASSWORD; POSTGRES_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
compose() { docker compose -p backups-smoke -f docker/docker-compose.yml "$@"; }
finish() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "smoke: the stack's last logs:" >&2
    compose logs --no-color --tail 40 >&2 || true
  fi
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  exit $rc
}
trap finish EXIT
compose up -d --no-build --quiet-pull

wait_healthy() {
  local deadline=$(($(date +%s) + 180)) service id status
  for service in orchestrator orchestrator-2; do
    while :; do
      id=$(compose ps -q "$service")
      status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)
      [ "$status" = healthy ] && break
      [ "$(date +%s)" -lt "$deadline" ] || fail "$service is not healthy (status: ${status:-none})"
      sleep 1
    done
  done
}
wait_healthy
one="http://127.0.0.1:$ORCHESTRATOR_PORT"
two="http://127.0.0.1:$ORCHESTRATOR_2_PORT"
for base in "$one" "$two"; do
  curl -fsS "$base/readyz" >/dev/null || fail "$base/readyz"
done
echo "both replicas healthy on PostgreSQL"

step "register the demo app through the API"
compose exec -T directory-app sh -c \
  'mkdir -p /srv/files/invoices && for m in 01 02 03; do seq 1 20000 | sed "s/^/2026-$m,/" > /srv/files/invoices/2026-$m.csv; done'
TOKEN=$(compose exec -T orchestrator orchestrator tokens create smoke 2>/dev/null | tr -d '\r')
[ -n "$TOKEN" ] || fail "no API token from 'orchestrator tokens create'"
api() { # METHOD BASE PATH [JSON]: the body on stdout; any non-2xx status fails.
  local method=$1 base=$2 path=$3 body=${4:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'content-type: application/json' -d "$body")
  local out code
  out=$(curl "${args[@]}" "$base$path")
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $code == 2* ]] || fail "$method $path answered $code: $out"
  printf '%s' "$out"
}
app=$(jq -n --arg token "$DEMO_BACKUP_TOKEN" \
  '{name: "demo", url: "http://directory-app:9001", token: $token, schedule: "0 3 * * *", folder: "demo", keep_last: 5}')
api POST "$one" /api/v1/apps "$app" | jq -c '{name, url, schedule, folder}'

# test_now APP FOLDER: Test now on the second replica, followed on the first until it succeeds;
# then its copy must be listed verified, and the file in the volume must have the run's sha256.
# Sets run_id, file (the copy's name) and want (its sha256).
test_now() {
  local app=$1 folder=$2 run status deadline copies have
  run_id=$(api POST "$two" "/api/v1/apps/$app/runs" | jq -r .id)
  deadline=$(($(date +%s) + 180))
  while :; do
    run=$(api GET "$one" "/api/v1/runs/$run_id")
    status=$(jq -r .status <<<"$run")
    case $status in
      succeeded) break ;;
      failed | skipped | interrupted) fail "run $run_id of $app $status: $(jq -r .error <<<"$run")" ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || fail "run $run_id of $app still $status"
    sleep 1
  done
  jq -c '{id, status, trigger, file_name, bytes, sha256}' <<<"$run"
  file=$(jq -r .file_name <<<"$run")
  want=$(jq -r '.stored_sha256 // .sha256' <<<"$run")
  copies=$(api GET "$one" "/api/v1/apps/$app/copies")
  jq -e --arg f "$file" 'map(select(.name == $f and .verified)) | length == 1' <<<"$copies" >/dev/null \
    || fail "the copy $file of $app is not listed as verified: $copies"
  have=$(in_volume "$folder/$file")
  [ "$have" = "$want" ] || fail "$folder/$file in the volume has sha256 $have, the run recorded $want"
  echo "verified copy in the volume: $folder/$file (sha256 $want)"
}
in_volume() { compose exec -T orchestrator sha256sum "/data/backups/$1" | awk '{print $1}'; }

step "Test now (on the second replica) until verified"
test_now demo demo
demo_run=$run_id demo_file=$file demo_sha=$want

step "register postgres-agent (backup-agent, the stack's own database) through the API"
# It listens once its configuration and pg_dump, pg_restore and psql have been checked.
deadline=$(($(date +%s) + 60))
until grep -q "listening on http://" <<<"$(compose logs --no-color postgres-agent 2>&1)"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "postgres-agent does not listen"
  sleep 1
done
app=$(jq -n --arg token "$DEMO_AGENT_TOKEN" \
  '{name: "postgres", url: "http://postgres-agent:9000", token: $token, schedule: "0 2 * * *", folder: "postgres", keep_last: 5}')
api POST "$one" /api/v1/apps "$app" | jq -c '{name, url, schedule, folder}'

step "Test now postgres-agent until verified: a pg_dump custom-format archive"
test_now postgres postgres
# pg_dump --format=custom files begin with PGDMP; the orchestrator does not compress them again.
magic=$(compose exec -T orchestrator head -c 5 "/data/backups/postgres/$file")
[ "$magic" = PGDMP ] || fail "postgres/$file is not a custom-format dump (it begins with ${magic@Q})"
echo "postgres/$file is a pg_dump custom-format archive"

step "restart the stack"
compose down
compose up -d --no-build
wait_healthy

step "after the restart: the app, its copy and its history"
api GET "$two" /api/v1/apps/demo | jq -e '.name == "demo" and (.url | rtrimstr("/")) == "http://directory-app:9001"' >/dev/null \
  || fail "the app demo is gone"
api GET "$two" /api/v1/apps/demo/copies | jq -e --arg f "$demo_file" 'map(select(.name == $f and .verified)) | length == 1' >/dev/null \
  || fail "the copy $demo_file is gone"
api GET "$one" "/api/v1/runs?app=demo" | jq -e --argjson id "$demo_run" '.runs | map(select(.id == $id and .status == "succeeded")) | length == 1' >/dev/null \
  || fail "run $demo_run is gone from the history"
[ "$(in_volume "demo/$demo_file")" = "$demo_sha" ] || fail "the file in the volume changed"
echo "app, copy ($demo_file) and run $demo_run all still there"

step "down -v"
trap - EXIT
compose down -v --remove-orphans >/dev/null
step "smoke passed"
