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
declare -A last=()

while :; do
  now=$(date +%s)
  while read -r id status; do
    [ -n "$id" ] || continue
    case "$status" in
      *"(healthy)"*) every=$healthy_interval ;;
      *"(starting)"* | *"(unhealthy)"*) every=$interval ;;
      *) continue ;; # no health check
    esac
    if [ $((now - ${last[$id]:-0})) -ge "$every" ]; then
      last[$id]=$now
      podman healthcheck run "$id" >/dev/null 2>&1 &
    fi
  done < <(podman ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.ID}} {{.Status}}' 2>/dev/null)
  wait
  sleep 1
done
