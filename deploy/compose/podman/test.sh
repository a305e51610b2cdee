#!/usr/bin/env bash
# `npm run test:containers`: deploy/compose for real, on a machine without Docker Hub or a Docker engine.
# Installs what it needs (setup-host.sh), builds the images (images.sh), starts podman's Docker API in a
# network namespace of its own (compose.sh engine start), runs checks.ts there, and always cleans up: `down -v`,
# the API and the health loop stopped, the namespace removed. Run as root; re-runs reuse the images.
set -euo pipefail
# A namespace and a project of its own, so that it never touches a session of try.sh (namespace
# microseg-compose, project microseg); one session runs at a time (compose.sh engine start refuses a second).
export MICROSEG_PODMAN_NETNS="${MICROSEG_PODMAN_NETNS:-microseg-test}"
export MICROSEG_PODMAN_PROJECT="${MICROSEG_PODMAN_PROJECT:-microseg-test}"
. "$(dirname "$0")/env.sh"
# checks.ts waits on the health loop's DNS reloads (engine.ts, dnsSettled), which it keeps here.
export MICROSEG_PODMAN_RUN_DIR="$RUN_DIR"

node="$ROOT/node_modules/.bin/node"
[ -x "$node" ] || { echo "test.sh: run npm ci first (Node 24 comes from the project's dependencies)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test.sh: needs root (podman, network namespaces)" >&2; exit 2; }

# One run at a time on a machine: the namespace, the socket and the project name are fixed.
mkdir -p "$STATE"
exec 9>"$STATE/$NETNS.lock"
flock -n 9 || { echo "test.sh: another run holds $STATE/$NETNS.lock" >&2; exit 2; }

status=1
rm -f "$ROOT/test-results/containers-compose.log"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$status" != 0 ] && [ -S "$SOCKET" ]; then
    say "failed: the containers as they were, and their last logs"
    "$HERE/compose.sh" ps -a >&2 || true
    "$HERE/compose.sh" logs --no-color --tail=25 >&2 || true
    if [ -s "$ROOT/test-results/containers-compose.log" ]; then
      say "warnings and errors the containers logged (all of it: test-results/containers-compose.log):"
      grep -E '"level":"?(warn|error|fatal)|"level":(40|50|60)' "$ROOT/test-results/containers-compose.log" | tail -30 | cut -c1-400 >&2 || true
    fi
    say "the health checks' last changes:"
    tail -15 "$RUN_DIR/health.log" >&2 2>/dev/null || true
  fi
  grep -h aardvark "$RUN_DIR/health.log" >&2 2>/dev/null || true
  if [ -S "$SOCKET" ]; then "$HERE/compose.sh" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true; fi
  "$HERE/compose.sh" engine stop || true
  say "cleaned up (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$HERE/setup-host.sh"
t=$(date +%s)
"$HERE/images.sh"
say "images: $(($(date +%s) - t)) s"
# A previous run killed hard may have left the namespace behind: start from a clean one.
"$HERE/compose.sh" engine stop >/dev/null 2>&1 || true
"$HERE/compose.sh" engine start
"$HERE/compose.sh" down -v --remove-orphans --timeout 0 >/dev/null 2>&1
t=$(date +%s)
nsenter --net="/run/netns/$NETNS" "$node" --test --test-reporter=spec --test-timeout=600000 "$HERE/checks.ts"
status=0
say "checks: $(($(date +%s) - t)) s; total $(($(date +%s) - STARTED_AT)) s"
