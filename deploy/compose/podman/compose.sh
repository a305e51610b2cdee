#!/usr/bin/env bash
# docker compose for deploy/compose, with podman as the engine, in a network namespace of its own (so
# the published ports never meet the machine's own).
#
#   compose.sh engine start   the namespace, podman's Docker-compatible API in it, the health-check loop
#   compose.sh ARGS…          docker-compose ARGS against that API (up -d, ps, logs, run --rm msctl …, down -v)
#   compose.sh engine stop    stops the loop and the API, removes the namespace (after `down -v`)
#   compose.sh in CMD…        CMD inside the namespace (curl, the checks, podman)
#
# docker-compose 1.29 rejects compose.yaml's top-level `name:`: it runs a copy without it, with that
# name as the project (-p) and deploy/compose as the project directory (relative paths, .env).
set -euo pipefail
. "$(dirname "$0")/env.sh"

pidfile_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
  local file="$1"
  if pidfile_alive "$file"; then
    local pid
    pid="$(cat "$file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

start() {
  # One session per machine: netavark keeps one DNS server (aardvark-dns) for all, in whichever namespace
  # started it first, so a second namespace's containers would find no names.
  for other in /run/microseg-podman/*/service.pid; do
    [ -e "$other" ] && [ "$other" != "$RUN_DIR/service.pid" ] && pidfile_alive "$other" || continue
    echo "compose.sh: another session runs ($(basename "$(dirname "$other")")); stop it first (try.sh down)" >&2
    exit 2
  done
  mkdir -p "$RUN_DIR"
  if [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
  fi
  if ! pidfile_alive "$RUN_DIR/service.pid"; then
    rm -f "$SOCKET"
    # A process of its own (setsid: a Ctrl-C of the caller leaves it to the caller's cleanup, which
    # still needs it for `down -v`). --time=0: it never exits by itself.
    setsid nsenter --net="/run/netns/$NETNS" podman system service --time=0 "unix://$SOCKET" \
      >"$RUN_DIR/service.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/service.pid"
  fi
  for _ in $(seq 100); do
    curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null || { cat "$RUN_DIR/service.log" >&2; exit 1; }
  if ! pidfile_alive "$RUN_DIR/health.pid"; then
    setsid nsenter --net="/run/netns/$NETNS" "$HERE/health-loop.sh" >"$RUN_DIR/health.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/health.pid"
  fi
  say "podman API at $DOCKER_HOST, in network namespace $NETNS"
}

stop() {
  stop_pid "$RUN_DIR/health.pid"
  stop_pid "$RUN_DIR/service.pid"
  if [ -e "/run/netns/$NETNS" ]; then
    # Whatever still runs in the namespace was started by compose in it (a container left by a failed
    # run, its conmon, aardvark-dns): stop it, or the namespace outlives its name.
    pids="$(ip netns pids "$NETNS" 2>/dev/null || true)"
    if [ -n "$pids" ]; then
      say "stopping what is left in $NETNS: $(echo "$pids" | tr '\n' ' ')"
      for label in "com.docker.compose.project=$PROJECT" org.testcontainers; do
        ids="$(in_netns podman ps -aq --filter "label=$label" 2>/dev/null || true)"
        # shellcheck disable=SC2086 # one id per word
        [ -z "$ids" ] || in_netns podman rm -f -t 0 $ids >/dev/null 2>&1 || true
      done
      pids="$(ip netns pids "$NETNS" 2>/dev/null || true)"
      # shellcheck disable=SC2086 # one pid per word
      [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    fi
    ip netns delete "$NETNS"
  fi
  rm -rf "$RUN_DIR"
  rmdir "$(dirname "$RUN_DIR")" 2>/dev/null || true
}

compose_file() {
  mkdir -p "$RUN_DIR"
  sed '/^name:/d' "$ROOT/deploy/compose/compose.yaml" >"$RUN_DIR/compose.yaml"
  echo "$RUN_DIR/compose.yaml"
}

case "${1:-}" in
  engine)
    case "${2:-}" in
      start) start ;;
      stop) stop ;;
      *) echo "compose.sh engine start|stop" >&2; exit 2 ;;
    esac
    ;;
  in)
    shift
    exec nsenter --net="/run/netns/$NETNS" "$@"
    ;;
  "") sed -n '2,12p' "$0" >&2; exit 2 ;;
  *)
    file="$(compose_file)"
    exec docker-compose --ansi never -p "$PROJECT" --project-directory "$ROOT/deploy/compose" -f "$file" "$@"
    ;;
esac
