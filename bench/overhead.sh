#!/usr/bin/env bash
# Times a KMS-sized verify against what it cannot avoid: a bare `git clone`
# of the tag plus the same build, in the same run, alternating, and prints
# each round and, on its last lines, the medians and the ratio:
#   cpu (user + sys, children included): bare 30.10 s + rm 0.40 s · verify --cache-dir 30.90 s · ratio 1.03 (1.01 with rm)
#   bare 41.20 s · verify cold 63.10 s · verify --cache-dir 42.30 s · ratio 1.03 (1.01 with rm) (goal ≤ 1.05)
# The ratio is verify with a warm --cache-dir over bare with a warm cache;
# "with rm" adds the removal of the bare tree, which the verifier does for
# its own work folder before it exits. "verify cold" gets a fresh, empty
# --cache-dir every round. CPU time is steadier than wall time on a shared
# machine, and user time steadier than system time (the kernel's share
# swings with what other processes do to memory and disk).
#
#   bench/overhead.sh [ROUNDS] [BUILD_UNITS]   (defaults: 3 rounds, 8 units of ~1.5 s of CPU)
#     The release's build does real CPU work with tools on the machine (gzip
#     over generated text): no package manager, no network.
#   bench/overhead.sh --npm [ROUNDS]            (default: 3 rounds)
#     The release is bench/kms-like, a KMS-shaped npm project (TypeScript,
#     Vite, a worker, a stylesheet, _headers, SRI pins; exact versions in its
#     package-lock.json), built with `npm ci && npm run build` into dist/.
#     Needs Node 20.19 or later on PATH and the npm registry. The bare build
#     gets what the verifier's build gets: an empty HOME and an npm cache
#     folder of its own, kept across rounds (warm).
#
# Everything else is local: a temporary git repository with the release, a
# loopback HTTP server (python3) as the CDN, --allow-unsigned (the signature
# is not the point). KEEP=1 keeps the work folder and the verifier's JSON
# reports (report-*.json: the cost and timings of each stage).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=gzip
if [ "${1:-}" = --npm ]; then mode=npm; shift; fi
rounds=${1:-3}
units=${2:-8}
command -v python3 >/dev/null || { echo "python3 is needed for the loopback CDN"; exit 1; }
if [ "$mode" = npm ]; then
  command -v npm >/dev/null || { echo "--npm needs node and npm on PATH"; exit 1; }
fi
work=$(mktemp -d)
chmod 0711 "$work" # as root the build runs as a fresh uid, which must reach the work folders
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
go build -o "$work/kms-verify" .
git_() { GIT_AUTHOR_DATE=2024-01-02T00:00:00Z GIT_COMMITTER_DATE=2024-01-02T00:00:00Z \
  git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid "$@"; }

# The release, tagged v1.0.0, and for each mode: the build command, how the
# bare build runs it, what the CDN serves and what the verifier checks.
repo="$work/repo"
mkdir -p "$repo"
if [ "$mode" = gzip ]; then
  # A build that burns CPU deterministically (gzip -9 -n of generated text,
  # hashed) and writes dist/app.js.
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
  build_command="sh build.sh"
  bare_build() { sh build.sh; }
else
  # The committed files of bench/kms-like only (not a node_modules or dist
  # someone left there).
  git ls-files -z bench/kms-like | while IFS= read -r -d '' f; do
    mkdir -p "$repo/$(dirname "${f#bench/kms-like/}")"
    cp "$f" "$repo/${f#bench/kms-like/}"
  done
  build_command="npm ci && npm run build"
  mkdir -m 0700 "$work/bare-npm"
  bare_build() {
    rm -rf "$work/bare-home"; mkdir -m 0700 "$work/bare-home"
    # Exactly the variables the verifier gives its build (build.Env), and
    # the cache variable --cache-dir adds.
    env -i PATH="$PATH" HOME="$work/bare-home" SOURCE_DATE_EPOCH=1704153600 RELEASE_TAG=v1.0.0 \
      RELEASE_COMMIT="$(git rev-parse HEAD)" TZ=UTC npm_config_cache="$work/bare-npm" \
      sh -c "$build_command" > "$work/bare.log" 2>&1 ||
      { echo "bare build failed:"; tail -20 "$work/bare.log"; exit 1; }
  }
fi
git_ init -q
git_ add -A
git_ commit -qm release
git_ tag -a v1.0.0 -m v1.0.0

bare() {
  rm -rf "$work/bare"
  git clone -q --branch v1.0.0 "$repo" "$work/bare" 2>/dev/null
  (cd "$work/bare" && bare_build)
}
bare # also warms the bare build's cache

# The CDN serves what the release builds.
mkdir -p "$work/cdn"
if [ "$mode" = gzip ]; then
  cp "$work/bare/dist/app.js" "$work/cdn/app.js"
  probe=app.js
else
  cp -R "$work/bare/dist/." "$work/cdn/"
  probe=index.html
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/cdn.py "$work/cdn" "$port" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/$probe')" 2>/dev/null && break
  sleep 0.1
done
if [ "$mode" = gzip ]; then
  target=(--artifact dist/app.js --url "http://127.0.0.1:$port/app.js" --skip-page-check)
else
  # Site mode: every file of dist/ fetched and compared, the page's scripts
  # and styles accounted for.
  target=(--site-dir dist --site-url "http://127.0.0.1:$port/")
fi

mkdir -m 0711 "$work/tmp" "$work/cache"
n=0
verify() {
  n=$((n + 1))
  TMPDIR="$work/tmp" "$work/kms-verify" verify --repo "$repo" --tag v1.0.0 \
    --build-command "$build_command" "${target[@]}" --allow-unsigned \
    --report "$work/report-$n-$1.json" "${@:2}" > "$work/verify.log" 2>&1 ||
    { echo "verify failed:"; tail -20 "$work/verify.log"; exit 1; }
}
cold() { rm -rf "$work/cold"; mkdir -m 0711 "$work/cold"; verify cold --cache-dir "$work/cold"; }
warm() { verify warm --cache-dir "$work/cache"; }
# The bare build leaves its tree; removing it is timed apart (the verifier
# removes its own work folder before it exits, so its times include that).
cleanup_bare() { rm -rf "$work/bare"; }
# cpu: user + system seconds of every child waited for so far (bash's times).
# (times runs in this shell, not in a $(...) subshell, to see its children.)
# It prints "user+sys user".
cpu() { times > "$work/times"; awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); v[i] = t[1] * 60 + t[2]; s += v[i] } printf "%.3f %.3f\n", s, v[1] }' "$work/times"; }
now() { date +%s.%N; }
# timed NAME CMD...: runs CMD, appends its wall and CPU seconds to NAME_w, NAME_c.
timed() {
  local name=$1 t0 c0 t1 c1
  shift
  # What the previous step wrote (a cold cache, a removed tree) is flushed
  # first, outside the timing, so it does not slow this step.
  sync
  cpu > "$work/c0"; t0=$(now); "$@"; t1=$(now); cpu > "$work/c1"
  read -r c0 u0 < "$work/c0"; read -r c1 u1 < "$work/c1"
  eval "${name}_w+=($(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }'))"
  eval "${name}_c+=($(awk -v a="$c1" -v b="$c0" 'BEGIN { printf "%.3f", a - b }'))"
  eval "${name}_u+=($(awk -v a="$u1" -v b="$u0" 'BEGIN { printf "%.3f", a - b }'))"
}
# Warm everything once (page cache, binary, the warm cache folder).
warm
cleanup_bare
b_w=() b_c=() b_u=() r_w=() r_c=() r_u=() v_w=() v_c=() v_u=() c_w=() c_c=() c_u=() ratios=()
for i in $(seq "$rounds"); do
  # Bare and verify --cache-dir side by side, in turns first, so a load that
  # drifts during the run weighs on both; the cold verify last.
  if [ $((i % 2)) = 1 ]; then
    timed b bare; timed r cleanup_bare; timed c warm
  else
    timed c warm; timed b bare; timed r cleanup_bare
  fi
  timed v cold
  ratios+=("$(awk -v c="${c_w[-1]}" -v b="${b_w[-1]}" 'BEGIN { printf "%.3f", c / b }')")
  printf 'round %d: bare %.2f s (+ rm %.2f s) · verify cold %.2f s · verify --cache-dir %.2f s (%.2f×) · cpu %.2f (+ %.2f) · %.2f · %.2f s · load %s\n' \
    "$i" "${b_w[-1]}" "${r_w[-1]}" "${v_w[-1]}" "${c_w[-1]}" "${ratios[-1]}" "${b_c[-1]}" "${r_c[-1]}" "${v_c[-1]}" "${c_c[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
awk -v m="$mode" -v n="$rounds" -v b="$(median "${b_w[@]}")" -v r="$(median "${r_w[@]}")" \
  -v v="$(median "${v_w[@]}")" -v c="$(median "${c_w[@]}")" -v bc="$(median "${b_c[@]}")" \
  -v rc="$(median "${r_c[@]}")" -v cc="$(median "${c_c[@]}")" -v pr="$(median "${ratios[@]}")" \
  -v bu="$(median "${b_u[@]}")" -v cu="$(median "${c_u[@]}")" 'BEGIN {
  printf "%s release, medians of %d rounds; bare + rm is %.2f s; verify cold is %.2f× bare; median of the rounds\x27 own ratios %.2f\n", m, n, b + r, v / b, pr
  printf "cpu (user + sys, children included): bare %.2f s + rm %.2f s · verify --cache-dir %.2f s · ratio %.2f (%.2f with rm); user alone: bare %.2f s · verify --cache-dir %.2f s · ratio %.2f\n", bc, rc, cc, cc / bc, cc / (bc + rc), bu, cu, cu / bu
  printf "bare %.2f s · verify cold %.2f s · verify --cache-dir %.2f s · ratio %.2f (%.2f with rm) (goal ≤ 1.05)\n", b, v, c, c / b, c / (b + r) }'
