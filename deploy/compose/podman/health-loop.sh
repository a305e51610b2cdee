#!/usr/bin/env bash
# Runs the health checks of the project's containers: without systemd, podman never does by itself,
# and compose's `depends_on: condition: service_healthy` waits on them. compose.sh starts it (inside
# the namespace). It also keeps an eye on compose's DNS (below).
#
# A container whose check has not passed yet (starting, unhealthy) is probed every
# MICROSEG_HEALTH_INTERVAL seconds (default 2), a healthy one every MICROSEG_HEALTH_HEALTHY_INTERVAL
# (default 20): the image's check runs Node, and two cores have better things to do while ten services
# start. podman applies each check's own timeout, retries and start period.
set -u
. "$(dirname "$0")/env.sh"
interval="${MICROSEG_HEALTH_INTERVAL:-2}"
healthy_interval="${MICROSEG_HEALTH_HEALTHY_INTERVAL:-20}"
declare -A last=() seen=() probe=()
dns_seen="" dns_loaded="" dns_changed=0

# aardvark-dns 1.4 (Debian 12), compose's DNS server, rereads its configuration on every reload, one
# per container started or stopped, while netavark may still be writing it; with many containers
# starting at once it can keep a partial view (containers/aardvark-dns#389, fixed in later releases):
# some containers then find no names, or are not found, until the next reload. So, once its
# configuration has stayed the same for two seconds after a change, reload it once more.
dns_signature() { cat /run/containers/networks/aardvark-dns/* 2>/dev/null | md5sum; }

settle_dns() {
  local dir=/run/containers/networks/aardvark-dns sig pid
  sig="$(dns_signature)"
  if [ "$sig" != "$dns_seen" ]; then
    dns_seen=$sig dns_changed=$now
  elif [ "$sig" != "$dns_loaded" ] && [ $((now - dns_changed)) -ge 2 ]; then
    dns_loaded=$sig
    pid="$(cat "$dir/aardvark.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null; then echo "$(date -u +%H:%M:%S) aardvark-dns reloaded"; fi
    # What it was reloaded with, for checks.ts: settled while the configuration still reads the same.
    echo "$sig" >"$RUN_DIR/dns-loaded"
  fi
}

while :; do
  now=$(date +%s)
  while read -r id name status; do
    [ -n "$id" ] || continue
    case "$status" in
      *"(healthy)"*) health=healthy every=$healthy_interval ;;
      *"(starting)"*) health=starting every=$interval ;;
      *"(unhealthy)"*) health=unhealthy every=$interval ;;
      *) continue ;; # no health check
    esac
    # Changes only, for the record (test.sh shows the end of it when a run fails).
    [ "${seen[$id]:-}" = "$health" ] || echo "$(date -u +%H:%M:%S) $name $health"
    seen[$id]=$health
    # One probe at a time per container; the others go on without waiting for a slow one.
    if [ $((now - ${last[$id]:-0})) -ge "$every" ] && { [ -z "${probe[$id]:-}" ] || ! kill -0 "${probe[$id]}" 2>/dev/null; }; then
      last[$id]=$now
      podman healthcheck run "$id" >/dev/null 2>&1 &
      probe[$id]=$!
    fi
  done < <(podman ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.ID}} {{.Names}} {{.Status}}' 2>/dev/null)
  settle_dns
  sleep 1
done
