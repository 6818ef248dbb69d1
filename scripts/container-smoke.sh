#!/usr/bin/env bash
# Builds the action's image and runs `kms-verify demo` inside it the way the
# GitHub runner runs a container action: the workspace mounted at
# /github/workspace, GITHUB_* variables and the runner's file-command files
# (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) mounted from the host, INPUT_* inputs.
# It then checks the exit code, the outputs and the summary, and that
# `kms-verify version` names a commit.
#
# First, `build-image`: it runs `kms-verify verify --build-image IMAGE@sha256:…`
# (built here for the host) so that the engine itself runs the build: the
# artifact must say it was built at /kms-verify/src, and no kms-verify-build-*
# container may be left. The image is KMS_VERIFY_SMOKE_IMAGE (a pulled image
# with sh, referenced by digest) or, with podman, a tiny image imported from
# the host's sh; docker cannot run a local-only image by digest, so without
# KMS_VERIFY_SMOKE_IMAGE that part is "skipped" with docker, and so it is
# where the engine cannot start containers at all.
#
# Uses docker or podman, whichever is present (KMS_VERIFY_ENGINE overrides);
# podman whose defaults cannot start a container here gets a temporary
# containers.conf from scripts/podman-compat.sh. Base images that are
# scripts/container-standins.sh's offline stand-ins are used as they are, and
# the result line then says "on OFFLINE STAND-IN bases".
# With no engine it prints one "skipped" line and exits 0; an engine that
# cannot pull the base images (no registry) is also a "skipped" line, since
# nothing about the image was tested.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${KMS_VERIFY_ENGINE:-}
if [ -z "$engine" ]; then
  for e in docker podman; do
    if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then engine=$e; break; fi
  done
fi
if [ -z "$engine" ]; then
  echo "container-smoke: skipped: no working container engine (docker or podman)"
  exit 0
fi
# shellcheck source=scripts/podman-compat.sh
source scripts/podman-compat.sh
if ! podman_compat "$engine"; then
  echo "container-smoke: skipped: $PODMAN_COMPAT_MSG"
  exit 0
fi
[ -z "$PODMAN_COMPAT_MSG" ] || echo "container-smoke: $PODMAN_COMPAT_MSG"
work=$(mktemp -d)
tag="kms-verify-smoke:$$"
smoke_image_tag="localhost/kms-verify-smoke-sh:$$"
http_pid=
cleanup() {
  "$engine" rmi -f "$tag" "$smoke_image_tag" >/dev/null 2>&1 || true
  if [ -n "$http_pid" ]; then kill "$http_pid" 2>/dev/null || true; fi
  rm -rf "$work" "${PODMAN_COMPAT_DIR:-}"
}
trap cleanup EXIT

# build_image_smoke prints one line: passed, skipped (why) or FAILED (why),
# and returns 1 only on FAILED.
build_image_smoke() {
  local img=${KMS_VERIFY_SMOKE_IMAGE:-} b="$work/bi"
  mkdir -p "$b/rootfs" "$b/repo"
  if [ -z "$img" ]; then
    [ "$(basename "$engine")" = podman ] || { echo "skipped: docker runs a local image by digest only once pulled; set KMS_VERIFY_SMOKE_IMAGE=name@sha256:… (an image with sh)"; return 0; }
    # A minimal image: the host's sh, mkdir and their libraries.
    local f
    for bin in /bin/sh /bin/mkdir; do
      for f in "$bin" $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
        mkdir -p "$b/rootfs$(dirname "$f")"; cp -L "$f" "$b/rootfs$f"
      done
    done
    mkdir -p "$b/rootfs/tmp"; chmod 1777 "$b/rootfs/tmp"
    tar -C "$b/rootfs" -cf "$b/rootfs.tar" . || { echo "skipped: cannot make a root filesystem"; return 0; }
    "$engine" import "$b/rootfs.tar" "$smoke_image_tag" >/dev/null 2>&1 || { echo "skipped: $engine cannot import an image"; return 0; }
    img=$("$engine" image inspect --format '{{index .RepoDigests 0}}' "$smoke_image_tag" 2>/dev/null) || img=
    case "$img" in *@sha256:*) ;; *) echo "skipped: $engine gives the imported image no digest"; return 0 ;; esac
  fi
  local probe
  if ! probe=$("$engine" run --rm --entrypoint sh "$img" -c true 2>&1); then
    echo "skipped: $engine cannot run a container here: $(echo "$probe" | tail -n 1 | cut -c1-160)"; return 0
  fi
  command -v python3 >/dev/null || { echo "skipped: python3 (the loopback CDN) is missing"; return 0; }
  go build -o "$b/kms-verify" . || { echo "FAILED: kms-verify does not build"; return 1; }
  # shellcheck disable=SC2016 # the build script expands these, not this one
  ( cd "$b/repo" && git init -q && printf '#!/bin/sh\nmkdir -p dist\necho "built $RELEASE_TAG in $(pwd) HOME=$HOME token=${GITHUB_TOKEN:-none}" > dist/out.txt\n' > build.sh \
    && git add build.sh && git -c user.name=smoke -c user.email=smoke@example.invalid commit -qm smoke && git tag v1.0.0 ) || { echo "FAILED: test repository"; return 1; }
  mkdir -p "$b/cdn"; echo "built v1.0.0 in /kms-verify/src HOME=/tmp token=none" > "$b/cdn/out.txt"
  local port=$((20000 + RANDOM % 20000))
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$b/cdn" >/dev/null 2>&1 & http_pid=$!
  sleep 1
  local rc=0
  GITHUB_TOKEN=smoke-secret-token "$b/kms-verify" verify --repo "$b/repo" --tag v1.0.0 --build-command 'sh build.sh' \
    --artifact dist/out.txt --url "http://127.0.0.1:$port/out.txt" --skip-page-check --allow-unsigned \
    --build-image "$img" --build-timeout 5m > "$b/verify.log" 2>&1 || rc=$?
  kill "$http_pid" 2>/dev/null || true; http_pid=
  if [ "$rc" != 0 ]; then echo "FAILED: verify --build-image exited $rc:"; tail -n 40 "$b/verify.log"; return 1; fi
  if "$engine" ps -a --format '{{.Names}}' | grep -q '^kms-verify-build-'; then echo "FAILED: a kms-verify-build-* container was left"; return 1; fi
  echo "passed with $engine: the build ran in $img and verified; no container left"
}
if out=$(build_image_smoke); then echo "container-smoke: build-image: $out"; else echo "container-smoke: build-image: $out"; exit 1; fi
commit=$(git rev-parse HEAD)
version=$(git describe --tags --always 2>/dev/null || echo "$commit")
# Base images that are scripts/container-standins.sh's offline stand-ins
# (label io.github.lukium.kms-verify.standin=true): the run then tests this
# repository's Dockerfile and binary, not the official base images, and says
# so. A stand-in cannot have the official digest, so a digest pin is dropped
# from a copy of the Dockerfile for that build.
dockerfile=Dockerfile
standins=
for b in $(sed -nE 's/^FROM[[:space:]]+([^[:space:]]+).*/\1/p; s/^COPY[[:space:]]+--from=([^[:space:]]+).*/\1/p' Dockerfile | sed 's/@sha256:.*//' | grep ':' | sort -u); do
  if [ "$("$engine" image inspect --format '{{index .Labels "io.github.lukium.kms-verify.standin"}}' "$b" 2>/dev/null)" = true ]; then
    standins="$standins $b"
  fi
done
if [ -n "$standins" ]; then
  dockerfile="$work/Dockerfile"
  sed -E 's/^(FROM[[:space:]]+[^[:space:]@]+)@sha256:[0-9a-f]+/\1/; s/^(COPY[[:space:]]+--from=[^[:space:]@]+)@sha256:[0-9a-f]+/\1/' Dockerfile > "$dockerfile"
  echo "container-smoke: building on OFFLINE STAND-IN base images (scripts/container-standins.sh):$standins"
fi
if ! "$engine" build -f "$dockerfile" -t "$tag" --build-arg "VERSION=$version" --build-arg "COMMIT=$commit" \
     --build-arg "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)" . > "$work/build.log" 2>&1; then
  # Only a failure to get a base image is "skipped" (nothing about the image
  # was tested); any other build failure is a failure.
  pullerr='pinging container registry|initializing source docker://|pull access denied|manifest unknown|failed to resolve source metadata|short-name .* did not resolve|error pulling image|no such host|dial tcp'
  if ! grep -qE '^(STEP [0-9]+/[0-9]+: RUN|#[0-9]+ \[[^]]*\] RUN)' "$work/build.log" && grep -qiE "$pullerr" "$work/build.log"; then
    echo "container-smoke: skipped: $engine could not pull the base images (no registry access; scripts/container-standins.sh builds offline stand-ins): $(grep -iE "$pullerr" "$work/build.log" | head -n 1 | cut -c1-200)"
    exit 0
  fi
  echo "container-smoke: FAILED: the image does not build:"; tail -n 30 "$work/build.log"; exit 1
fi
mkdir -p "$work/workspace" "$work/file_commands"
: > "$work/file_commands/output"; : > "$work/file_commands/summary"
set +e
"$engine" run --rm \
  -v "$work/workspace:/github/workspace" -w /github/workspace \
  -v "$work/file_commands:/github/file_commands" \
  -e GITHUB_ACTIONS=true -e GITHUB_WORKSPACE=/github/workspace \
  -e GITHUB_OUTPUT=/github/file_commands/output -e GITHUB_STEP_SUMMARY=/github/file_commands/summary \
  -e GITHUB_REPOSITORY=lukium/kms-verify-action -e GITHUB_SERVER_URL=https://github.com \
  -e INPUT_MODE=demo \
  "$tag" > "$work/run.log" 2>&1
rc=$?
set -e
tail -n 20 "$work/run.log"
[ "$rc" = 0 ] || { echo "container-smoke: FAILED: demo in the image exited $rc"; exit 1; }
grep -q '^verdict=verified' "$work/file_commands/output" || grep -q 'verdict<<' "$work/file_commands/output" || {
  echo "container-smoke: FAILED: no verdict output"; cat "$work/file_commands/output"; exit 1; }
[ -s "$work/file_commands/summary" ] || { echo "container-smoke: FAILED: empty job summary"; exit 1; }
v=$("$engine" run --rm --entrypoint /usr/local/bin/kms-verify "$tag" version | tr '\n' ' ')
case "$v" in *"(commit $commit)"*) ;; *) echo "container-smoke: FAILED: version does not name $commit: $v"; exit 1 ;; esac
# What a JavaScript build needs (git, Node, corepack), and the system
# libcrypto the binary's SHA-384 uses when present.
if ! tools=$("$engine" run --rm --entrypoint sh "$tag" -c 'git --version && node --version && corepack --version && npm --version && (ldconfig -p | grep -q "libcrypto\.so\.3 " && echo libcrypto.so.3)' 2>&1); then
  echo "container-smoke: FAILED: the image lacks a tool a JavaScript build needs, or libcrypto.so.3:"; echo "$tools"; exit 1
fi
size=$("$engine" image inspect "$tag" --format '{{.Size}}')
on=
[ -z "$standins" ] || on=" on OFFLINE STAND-IN bases"
echo "container-smoke: passed with $engine$on: demo verified in the image; $v; $(echo "$tools" | tr '\n' ' '); image $size bytes ($((size / 1048576)) MiB)"
