# shellcheck shell=bash
# Sourced by scripts/container-smoke.sh and scripts/container-standins.sh.
#
# podman_compat ENGINE: when ENGINE is podman and it cannot start a container
# with its defaults, find a containers.conf with which it can, and export
# CONTAINERS_CONF for every later podman command of the calling script.
# Sets PODMAN_COMPAT_MSG to one line saying what it changed (empty when
# nothing was needed), or, returning 1 when no container starts at all, why.
# The caller removes PODMAN_COMPAT_DIR (the config's folder) when it is done.
#
# Seen in sandboxed VMs (podman 4.3, Debian bookworm, as root):
#   - crun: setrlimit `RLIMIT_NOFILE` / `RLIMIT_NPROC`: Operation not
#     permitted: podman raises both limits for root to values the sandbox
#     refuses; explicit default_ulimits at or below the host's hard limits
#     work (RLIMIT_NPROC only up to 32768 on one such VM, so it steps down);
#   - crun: cgroups in hybrid mode not supported: cgroup v1 with a cgroup2
#     hierarchy holding a controller; runc runs there (`apt-get install runc`).
# The config is written to a temporary file of the caller's, never to
# /etc/containers, so the machine's own configuration is left alone.
podman_compat() {
  local engine=$1 dir probe_rootfs f bin out rt n nofile nproc conf
  [ "$(basename "$engine")" = podman ] || return 0
  dir=$(mktemp -d)
  probe_rootfs="$dir/rootfs"
  # A root filesystem holding only the host's `true` and its libraries.
  PODMAN_COMPAT_MSG=
  bin=$(type -P true) || { PODMAN_COMPAT_MSG="no true binary to probe podman with"; return 1; }
  for f in "$bin" $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$probe_rootfs$(dirname "$f")"; cp -L "$f" "$probe_rootfs$f"
  done
  if out=$("$engine" run --rm --rootfs "$probe_rootfs" "$bin" 2>&1); then rm -rf "$dir"; return 0; fi
  local first=$out
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=1048576
  for rt in crun runc; do
    command -v "$rt" >/dev/null 2>&1 || continue
    for n in "$nproc" 32768 4096; do
      [ "$n" -le "$nproc" ] || continue
      conf="$dir/containers.conf"
      printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "%s"\n' \
        "$nofile" "$nofile" "$n" "$n" "$rt" > "$conf"
      if CONTAINERS_CONF=$conf "$engine" run --rm --rootfs "$probe_rootfs" "$bin" >/dev/null 2>&1; then
        rm -rf "$probe_rootfs"
        export CONTAINERS_CONF=$conf PODMAN_COMPAT_DIR=$dir
        PODMAN_COMPAT_MSG="podman's defaults fail here ($(echo "$first" | tail -n 1 | cut -c1-120)); using runtime $rt with nofile=$nofile nproc=$n ($conf)"
        return 0
      fi
    done
  done
  rm -rf "$dir"
  local hint=
  command -v runc >/dev/null 2>&1 || hint=" (runc is not installed; apt-get install runc may help)"
  PODMAN_COMPAT_MSG="podman cannot start a container here: $(echo "$first" | tail -n 1 | cut -c1-160)$hint"
  return 1
}
