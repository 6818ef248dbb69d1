#!/usr/bin/env bash
# Times `kms-verify verify-bundle` against `cosign verify-blob` on the same
# Sigstore bundle (the demo's committed DSSE bundle), with the same identity
# policy (exact SAN + OIDC issuer) and the same trusted_root.json, offline:
# both run with HTTP(S)_PROXY pointing at a closed port and an empty HOME and
# TUF cache, so any attempt to reach the network fails the run.
#
# The two tools alternate, one pair per round; each round's ratio is
# kms-verify wall time / cosign wall time, and the last line is the median
# of those per-pair ratios with the median wall times and peak RSS (max RSS
# of the process, from GNU time), then the same for CPU time (user + system):
#   ratio 0.30 · kms-verify 0.031 s, 24.1 MiB · cosign 0.102 s, 61.3 MiB · rss ratio 0.39 · cpu ratio 0.27 (0.021 s / 0.078 s) (cosign v2.6.5, 21 pairs)
# The bench fails (exit 1) if either tool does not verify the bundle, in
# any round, or if cosign is not installed (COSIGN=path picks the binary;
# KMS_VERIFY=path times a prebuilt kms-verify instead of building this tree).
#
#   bench/verify-bundle.sh [ROUNDS]   (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-21}
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed for peak RSS" >&2; exit 1; }
cosign=${COSIGN:-$(command -v cosign || true)}
if [ -z "$cosign" ] || [ ! -x "$cosign" ]; then
  echo "cosign is not installed: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 (or set COSIGN)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kv=${KMS_VERIFY:-$work/kms-verify}
[ -n "${KMS_VERIFY:-}" ] || go build -o "$kv" .

bundle=testdata/demo/sigstore/kms-enclave.sigstore.json
root=testdata/demo/sigstore/trusted_root.json
artifact=testdata/demo/cdn/kms-enclave.0bb86c38.js
id="https://github.com/lukium/kms-demo/.github/workflows/release.yml@refs/tags/v1.0.0"
iss="https://token.actions.githubusercontent.com"
policy=(--bundle "$bundle" --trusted-root "$root" --certificate-identity "$id" --certificate-oidc-issuer "$iss")
ours=("$kv" verify-bundle "${policy[@]}" "$artifact")
theirs=("$cosign" verify-blob "${policy[@]}" "$artifact")

# Offline and without state: no proxy can be reached, no TUF cache, no config.
mkdir -p "$work/home"
export HOME=$work/home TUF_ROOT=$work/home/.sigstore XDG_CACHE_HOME=$work/home/.cache
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
unset NO_PROXY no_proxy SIGSTORE_ROOT_FILE SIGSTORE_REKOR_PUBLIC_KEY SIGSTORE_CT_LOG_PUBLIC_KEY_FILE SIGSTORE_TSA_CERTIFICATE_FILE

version=$({ "$cosign" version 2>&1 || true; } | awk '/^GitVersion/ {print $2}')
echo "kms-verify: $({ "${ours[0]}" version 2>&1 || true; } | head -1) · cosign: ${version:-unknown} ($cosign)"

# run NAME CMD...: one timed run; appends "wall_seconds rss_kib cpu_seconds"
# to $work/NAME and exits the bench, loudly, when the tool does not verify
# the bundle. CPU time (user + system) is the shell's children's total from
# the `times` builtin before and after, in milliseconds; it is what the
# tool costs however busy the machine is, when wall time is not.
run() {
  local name=$1; shift
  times >"$work/c0"
  local t0=$EPOCHREALTIME
  if ! /usr/bin/time -f '%M' -o "$work/rss" "$@" >"$work/out" 2>&1; then
    echo "FAIL: $1 did not verify the bundle (the bench needs both tools to accept it):" >&2
    cat "$work/out" >&2
    exit 1
  fi
  local t1=$EPOCHREALTIME
  times >"$work/c1"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b-a}') $(tail -1 "$work/rss") $(cat "$work/c0" "$work/c1" | awk '
    function s(x,   m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    NR == 2 { c0 = s($1) + s($2) } NR == 4 { c1 = s($1) + s($2) } END { printf "%.3f", c1 - c0 }')" >>"$work/$name"
}

# One unmeasured pair warms the page cache for both binaries.
run warm "${ours[@]}"; run warm "${theirs[@]}"
for _ in $(seq "$rounds"); do
  run ours "${ours[@]}"
  run cosign "${theirs[@]}"
done

paste -d' ' "$work/ours" "$work/cosign" | awk -v v="${version:-unknown}" '
  function median(a, k,   i, j, t) {
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
    return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
  }
  { ow[NR] = $1; orss[NR] = $2; oc[NR] = $3; cw[NR] = $4; crss[NR] = $5; cc[NR] = $6
    r[NR] = $1 / $4; rc[NR] = ($6 > 0 ? $3 / $6 : 0)
    printf "round %d: kms-verify %.3f s (cpu %.3f s), %.1f MiB · cosign %.3f s (cpu %.3f s), %.1f MiB · ratio %.2f\n", NR, $1, $3, $2/1024, $4, $6, $5/1024, $1/$4 }
  END {
    mr = median(r, NR); mrc = median(rc, NR); mo = median(ow, NR); mor = median(orss, NR); moc = median(oc, NR)
    mc = median(cw, NR); mcr = median(crss, NR); mcc = median(cc, NR)
    printf "ratio %.2f · kms-verify %.3f s, %.1f MiB · cosign %.3f s, %.1f MiB · rss ratio %.2f · cpu ratio %.2f (%.3f s / %.3f s) (cosign %s, %d pairs)\n", mr, mo, mor/1024, mc, mcr/1024, mor/mcr, mrc, moc, mcc, v, NR
  }'
