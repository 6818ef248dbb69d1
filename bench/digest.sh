#!/usr/bin/env bash
# Times kms-verify's artifact hashing (SHA-256 + SHA-384 in one pass, the
# same code the verifier runs) against `openssl dgst -sha384` on the same
# file, in pairs (the order alternates, so neither side always runs on a
# warmer machine), and prints the median of the per-pair ratios and the
# product's peak RSS on its last line:  ratio 1.03 · rss 9.8 MiB
#
#   bench/digest.sh [SIZE_MiB] [ROUNDS]     (defaults: 1024 MiB, 7 rounds)
#
# CGO_ENABLED=0 bench/digest.sh measures Go's own SHA-384 instead of
# OpenSSL's libcrypto (see internal/digest/backend.go). Not -tags purego:
# that also turns off the assembly of Go's own hashes.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rounds=${2:-7}
command -v openssl >/dev/null || { echo "openssl is needed as the peer"; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed for peak RSS"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/digestfile" ./bench/digestfile
echo "SHA-384 by $("$work/digestfile" -backend); peer: $(openssl version)"
# Random bytes: the hashes' speed does not depend on content, but a file of
# zeros could be cached or compressed somewhere on the way.
head -c "$((size_mib << 20))" /dev/urandom > "$work/blob"
cat "$work/blob" > /dev/null # warm the page cache for both sides
# Both tools must agree on the digest, or the timing means nothing.
want=$(openssl dgst -sha384 -binary "$work/blob" | base64 -w0)
got=$("$work/digestfile" "$work/blob" | awk '{print $2}')
[ "$got" = "sha384-$want" ] || { echo "digest mismatch: kms-verify $got, openssl sha384-$want"; exit 1; }
ours() {
  /usr/bin/time -f '%e %M' -o "$work/t" "$work/digestfile" "$work/blob" > /dev/null
  read -r o m < "$work/t"; rss+=("$m")
}
peer() {
  /usr/bin/time -f '%e %M' -o "$work/t" openssl dgst -sha384 "$work/blob" > /dev/null
  read -r p _ < "$work/t"
}
ratios=() rss=()
for i in $(seq "$rounds"); do
  if (( i % 2 )); then ours; peer; else peer; ours; fi
  ratios+=("$(awk -v o="$o" -v p="$p" 'BEGIN { printf "%.3f", o/p }')")
  echo "round $i: kms-verify $o s · openssl $p s · ratio ${ratios[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mr=$(median "${ratios[@]}"); mm=$(median "${rss[@]}")
awk -v r="$mr" -v m="$mm" -v s="$size_mib" -v n="$rounds" 'BEGIN {
  printf "%d MiB, %d pairs: median of the per-pair ratios (kms-verify / openssl dgst -sha384)\n", s, n
  printf "ratio %.2f · rss %.1f MiB\n", r, m/1024 }'
