#!/bin/sh
# The image's entry point: `docker run microseg COMMAND [ARGS]`.
#
#   gateway | authn | policy | flowlog   a microseg service; ARGS go to it (e.g. --check-config)
#   idp | app                            the demo OpenID Provider / the demo application
#   msctl ARGS                           the command-line client
#   init-demo ARGS                       the demo's secrets and objects (deploy/docker/init-demo.ts)
#   healthcheck [URL]                    exit 0 when this container's service is ready
#
# Secrets as files: FOO_FILE=/path sets FOO to the file's content (compose volumes, Kubernetes Secret
# volumes), so secrets need not sit in the environment `docker inspect` shows. Only microseg's own
# variables (POLICY_, AUTHN_, GATEWAY_, FLOWLOG_, DEMO_, MSCTL_, REDIS_, NATS_) are read this way:
# others, such as SSL_CERT_FILE, are file names in their own right.
# MICROSEG_LOOPBACK_FORWARD relays loopback ports to other hosts (deploy/docker/container-network.ts).
set -eu
cd "$(dirname "$0")/../.."
# The image's own Node; never node_modules/.bin/node (the `node` package is pruned from the image).
node="${MICROSEG_NODE:-/usr/local/bin/node}"

for name in $(env | sed -En 's/^((POLICY|AUTHN|GATEWAY|FLOWLOG|DEMO|MSCTL|REDIS|NATS)_[A-Z0-9_]*)_FILE=.*$/\1/p'); do
  eval "file=\${${name}_FILE}"
  if [ ! -r "$file" ]; then
    echo "entrypoint: ${name}_FILE names ${file}, which cannot be read" >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done

network=""
if [ -n "${MICROSEG_LOOPBACK_FORWARD:-}" ]; then network="--import ./deploy/docker/container-network.ts"; fi

command="${1:-}"
if [ $# -gt 0 ]; then shift; fi
case "$command" in
  gateway)
    # A small young generation and a bounded old one (the gateway's caches are bounded), telemetry without the
    # ES module loader hook (packages/telemetry/src/start.ts). The same as the test kit's serviceNodeArgs.
    # shellcheck disable=SC2086 # $network is zero or two words
    exec "$node" --max-semi-space-size=4 --max-old-space-size=256 $network --import @microseg/telemetry/start "services/$command/src/main.ts" "$@"
    ;;
  authn | policy | flowlog)
    # shellcheck disable=SC2086 # $network is zero or two words
    exec "$node" $network --import @microseg/telemetry/register "services/$command/src/main.ts" "$@"
    ;;
  idp | app)
    # The demo listens on 127.0.0.1 unless told otherwise; in a container it must be reachable.
    export DEMO_LISTEN_HOST="${DEMO_LISTEN_HOST:-0.0.0.0}"
    exec "$node" --import ./deploy/docker/container-network.ts packages/demo/src/main.ts "$command"
    ;;
  msctl)
    exec "$node" packages/cli/bin/msctl.js "$@"
    ;;
  init-demo)
    exec "$node" deploy/docker/init-demo.ts "$@"
    ;;
  healthcheck)
    exec "$node" deploy/docker/healthcheck.ts "$@"
    ;;
  *)
    echo "usage: docker run microseg gateway|authn|policy|flowlog|idp|app|msctl|init-demo|healthcheck [ARGS]" >&2
    exit 2
    ;;
esac
