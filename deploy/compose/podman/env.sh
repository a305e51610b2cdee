# Shared settings of the podman scripts (sourced, not run). Everything they keep lives under $STATE;
# nothing here changes the machine's own container configuration.
#
#   MICROSEG_PODMAN_STATE   where the engine settings and downloaded packages are kept
#                           (default /var/lib/microseg-podman)
#   MICROSEG_PODMAN_NETNS   the network namespace compose runs in (default microseg-compose)
#   MICROSEG_PODMAN_PROJECT the compose project name (default: compose.yaml's `name:`)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/deploy/compose/podman"
STATE="${MICROSEG_PODMAN_STATE:-/var/lib/microseg-podman}"
NETNS="${MICROSEG_PODMAN_NETNS:-microseg-compose}"
RUN_DIR="/run/microseg-podman/$NETNS"
SOCKET="$RUN_DIR/podman.sock"
PROJECT="${MICROSEG_PODMAN_PROJECT:-$(sed -n 's/^name:[[:space:]]*\([A-Za-z0-9_-]*\).*/\1/p' "$ROOT/deploy/compose/compose.yaml")}"
# The engine settings every podman of ours uses (written by setup-host.sh): runc, cgroupfs, file
# events, ulimits that root without CAP_SYS_RESOURCE can set.
export CONTAINERS_CONF="$STATE/containers.conf"
export DOCKER_HOST="unix://$SOCKET"
# docker-compose 1.29 reads this too; never let it reach for a real Docker.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

# Elapsed seconds since the script began, for the timings printed along the way.
STARTED_AT="${STARTED_AT:-$(date +%s)}"
export STARTED_AT
say() { printf '[containers %4ss] %s\n' "$(($(date +%s) - STARTED_AT))" "$*" >&2; }

# A command inside the project's network namespace (nsenter, not `ip netns exec`: the latter remounts
# /sys and hides the cgroup mounts runc needs).
in_netns() { nsenter --net="/run/netns/$NETNS" "$@"; }
