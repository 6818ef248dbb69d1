#!/usr/bin/env bash
# Times a KMS-sized verify against what it cannot avoid: a bare `git clone`
# of the tag plus the same build, in the same run, alternating, with warm
# caches, and prints the medians and the ratio on its last line:
#   bare 12.31 s · verify 12.70 s · verify --cache-dir 12.66 s · ratio 1.03 (goal ≤ 1.05)
# (the ratio is verify --cache-dir over bare).
#
# Everything is local: a temporary git repository whose build does real CPU
# work with tools on the machine (gzip over generated text: no network), a
# loopback HTTP server (python3) as the CDN, --allow-unsigned and
# --skip-page-check (the signature is not the point).
#
#   bench/overhead.sh [ROUNDS] [BUILD_UNITS]   (defaults: 3 rounds, 8 units of ~1.5 s of CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
units=${2:-8}
command -v python3 >/dev/null || { echo "python3 is needed for the loopback CDN"; exit 1; }
work=$(mktemp -d)
chmod 0711 "$work" # as root the build runs as a fresh uid, which must reach the work folders
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/kms-verify" .

# The release: a build that burns CPU deterministically (gzip -9 -n of
# generated text, hashed) and writes dist/app.js.
repo="$work/repo"
mkdir -p "$repo"
cat > "$repo/build.sh" <<SH
#!/bin/sh
set -eu
mkdir -p dist
: > dist/app.js
i=0
while [ \$i -lt $units ]; do
  seq \$((i * 3000000)) \$((i * 3000000 + 3000000)) | gzip -9 -n | sha256sum | cut -c1-64 >> dist/app.js
  i=\$((i + 1))
done
SH
git -C "$repo" init -q
git -C "$repo" add build.sh
GIT_AUTHOR_DATE=2024-01-02T00:00:00Z GIT_COMMITTER_DATE=2024-01-02T00:00:00Z \
  git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid commit -qm release
git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid tag -a v1.0.0 -m v1.0.0

# The CDN serves what the release builds.
bare() {
  rm -rf "$work/bare"
  git clone -q --branch v1.0.0 "$repo" "$work/bare" 2>/dev/null
  (cd "$work/bare" && sh build.sh)
}
bare
mkdir -p "$work/cdn"
cp "$work/bare/dist/app.js" "$work/cdn/app.js"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/cdn" "$port" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/app.js')" 2>/dev/null && break
  sleep 0.1
done

mkdir -m 0711 "$work/tmp" "$work/cache"
verify() {
  TMPDIR="$work/tmp" "$work/kms-verify" verify --repo "$repo" --tag v1.0.0 \
    --build-command "sh build.sh" --artifact dist/app.js --url "http://127.0.0.1:$port/app.js" \
    --allow-unsigned --skip-page-check "$@" > "$work/verify.log" 2>&1 ||
    { echo "verify failed:"; tail -20 "$work/verify.log"; exit 1; }
}
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# Warm everything once (page cache, binary, cache folder).
verify
verify --cache-dir "$work/cache"
b=() v=() c=()
for i in $(seq "$rounds"); do
  t0=$(now); bare; t1=$(now); verify; t2=$(now); verify --cache-dir "$work/cache"; t3=$(now)
  b+=("$(sub "$t1" "$t0")"); v+=("$(sub "$t2" "$t1")"); c+=("$(sub "$t3" "$t2")")
  printf 'round %d: bare %.2f s · verify %.2f s · verify --cache-dir %.2f s\n' "$i" "${b[-1]}" "${v[-1]}" "${c[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${b[@]}"); mv=$(median "${v[@]}"); mc=$(median "${c[@]}")
awk -v b="$mb" -v v="$mv" -v c="$mc" 'BEGIN {
  printf "medians of the rounds; verify alone is %.2f× bare\n", v/b
  printf "bare %.2f s · verify %.2f s · verify --cache-dir %.2f s · ratio %.2f (goal ≤ 1.05)\n", b, v, c, c/b }'
