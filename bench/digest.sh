#!/usr/bin/env bash
# Times kms-verify's artifact hashing (SHA-256 + SHA-384 in one pass, the
# same code the verifier runs) against `openssl dgst -sha384` on the same
# file, in the same run, alternating, and prints the median ratio and the
# product's peak RSS on its last line:  ratio 1.03 · rss 9.8 MiB
#
#   bench/digest.sh [SIZE_MiB] [ROUNDS]     (defaults: 1024 MiB, 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rounds=${2:-5}
command -v openssl >/dev/null || { echo "openssl is needed as the peer"; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed for peak RSS"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/digestfile" ./bench/digestfile
# Random bytes: the hashes' speed does not depend on content, but a file of
# zeros could be cached or compressed somewhere on the way.
head -c "$((size_mib << 20))" /dev/urandom > "$work/blob"
cat "$work/blob" > /dev/null # warm the page cache for both sides
ours=() peer=() rss=()
for i in $(seq "$rounds"); do
  /usr/bin/time -f '%e %M' -o "$work/t" "$work/digestfile" "$work/blob" > /dev/null
  read -r e m < "$work/t"; ours+=("$e"); rss+=("$m")
  /usr/bin/time -f '%e %M' -o "$work/t" openssl dgst -sha384 "$work/blob" > /dev/null
  read -r e m < "$work/t"; peer+=("$e")
  echo "round $i: kms-verify ${ours[-1]} s · openssl ${peer[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}"); mp=$(median "${peer[@]}"); mr=$(median "${rss[@]}")
awk -v o="$mo" -v p="$mp" -v r="$mr" -v s="$size_mib" 'BEGIN {
  printf "%d MiB: kms-verify %.2f s (%.0f MB/s), openssl -sha384 %.2f s (medians)\n", s, o, s*1.048576/o, p
  printf "ratio %.2f · rss %.1f MiB\n", o/p, r/1024 }'
