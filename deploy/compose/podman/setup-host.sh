#!/usr/bin/env bash
# Installs what running deploy/compose under podman needs on a Debian 12 machine (root), and the
# engine settings ($STATE/containers.conf, used through CONTAINERS_CONF by every script here).
# Idempotent: installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/env.sh"

# docker-compose 1.29 (Debian's podman-compose ignores depends_on conditions and profiles), podman with
# runc (crun refuses this machine's hybrid cgroup layout), netavark and aardvark-dns (compose's network
# and its DNS), catatonit (`init: true`), mmdebstrap (the Debian base image), iptables (published ports).
want=(podman buildah runc conmon catatonit netavark aardvark-dns mmdebstrap docker-compose iptables util-linux iproute2)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  # No recommends: docker-compose would bring docker.io, podman crun and slirp4netns.
  DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$STATE"
conf="$CONTAINERS_CONF"
cat > "$conf.tmp" <<'EOF'
# Written by deploy/compose/podman/setup-host.sh; used through CONTAINERS_CONF by its scripts.
[containers]
# Root here lacks CAP_SYS_RESOURCE: the defaults (raising the hard limits) fail with setrlimit.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses this machine's hybrid cgroup layout; there is no systemd.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
EOF
if cmp -s "$conf.tmp" "$conf"; then rm "$conf.tmp"; else mv "$conf.tmp" "$conf"; fi
say "host ready: $(podman --version), $(docker-compose version --short 2>/dev/null || docker-compose --version)"
