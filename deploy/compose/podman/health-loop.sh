#!/usr/bin/env bash
# Runs the health checks of the project's containers: without systemd, podman never does by itself,
# and compose's `depends_on: condition: service_healthy` waits on them. compose.sh starts it (inside
# the namespace).
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
  sleep 1
done
