#!/usr/bin/env bash
# Builds the action's image and runs `kms-verify demo` inside it the way the
# GitHub runner runs a container action: the workspace mounted at
# /github/workspace, GITHUB_* variables and the runner's file-command files
# (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) mounted from the host, INPUT_* inputs.
# It then checks the exit code, the outputs and the summary, and that
# `kms-verify version` names a commit.
#
# Uses docker or podman, whichever is present (KMS_VERIFY_ENGINE overrides).
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
work=$(mktemp -d)
tag="kms-verify-smoke:$$"
cleanup() { "$engine" rmi -f "$tag" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
commit=$(git rev-parse HEAD)
version=$(git describe --tags --always 2>/dev/null || echo "$commit")
if ! "$engine" build -t "$tag" --build-arg "VERSION=$version" --build-arg "COMMIT=$commit" \
     --build-arg "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)" . > "$work/build.log" 2>&1; then
  if grep -qiE 'pull|registry|resolve|dial tcp|no such host|manifest unknown|timeout' "$work/build.log"; then
    echo "container-smoke: skipped: $engine could not resolve or pull the base images (no registry access): $(grep -iE 'pull|registry|resolve|dial' "$work/build.log" | head -n 1 | cut -c1-200)"
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
cat "$work/run.log" | tail -n 20
[ "$rc" = 0 ] || { echo "container-smoke: FAILED: demo in the image exited $rc"; exit 1; }
grep -q '^verdict=verified' "$work/file_commands/output" || grep -q 'verdict<<' "$work/file_commands/output" || {
  echo "container-smoke: FAILED: no verdict output"; cat "$work/file_commands/output"; exit 1; }
[ -s "$work/file_commands/summary" ] || { echo "container-smoke: FAILED: empty job summary"; exit 1; }
v=$("$engine" run --rm --entrypoint /usr/local/bin/kms-verify "$tag" version)
case "$v" in *"$commit"*|*"${commit:0:12}"*) ;; *) echo "container-smoke: FAILED: version does not name $commit: $v"; exit 1 ;; esac
size=$("$engine" image inspect "$tag" --format '{{.Size}}')
echo "container-smoke: passed with $engine: demo verified in the image; $v; image $((size / 1048576)) MiB"
