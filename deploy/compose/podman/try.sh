#!/usr/bin/env bash
# Try deploy/compose on a machine without Docker Hub or a Docker engine (Debian 12, root): podman runs it,
# in a network namespace of its own, with images built here (images.sh).
#
#   deploy/compose/podman/try.sh [COMPOSE-UP-ARGS…]   e.g. --scale authn=3 --scale policy=2
#   deploy/compose/podman/try.sh down                 everything removed: containers, volumes, namespace
#
# Between the two, compose.sh is `docker compose` for it (ps, logs -f, run --rm msctl …) and
# `compose.sh in CMD` runs CMD where the published ports are (curl, a browser).
set -euo pipefail
. "$(dirname "$0")/env.sh"

if [ "${1:-}" = down ]; then
  if [ -S "$SOCKET" ]; then "$HERE/compose.sh" down -v --remove-orphans; fi
  "$HERE/compose.sh" engine stop
  exit 0
fi

"$HERE/setup-host.sh"
"$HERE/images.sh"
"$HERE/compose.sh" engine start
"$HERE/compose.sh" up -d --no-build "$@"
c="deploy/compose/podman/compose.sh"
cat <<INFO

deploy/compose runs (project $PROJECT) in the network namespace $NETNS: its published ports are that
namespace's localhost, not this machine's.

  $c ps
  $c in curl -sk https://localhost:8443/public/hello
  $c run --rm msctl api list services -n /acme -r
  $c in chromium --user-data-dir="\$(mktemp -d)" https://localhost:8443/    (a desktop's display)
      alice@example.com / alice gets through, bob@example.com / bob gets the 403 page
  $c in curl -s http://localhost:16686/api/services                         (traces: the Jaeger stand-in)
  deploy/compose/podman/try.sh down
INFO
