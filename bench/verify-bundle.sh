#!/usr/bin/env bash
# Times `kms-verify verify-bundle` on the demo's committed bundle (offline:
# its own trusted_root.json) and, when cosign is installed, `cosign
# verify-blob` on the same bundle, alternating, and prints the median wall
# times, peak RSS and the ratio on its last line:
#   ratio 0.45 · kms-verify 0.040 s, 24.1 MiB · cosign 0.089 s, 61.0 MiB
#
#   bench/verify-bundle.sh [ROUNDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/kms-verify" .
bundle=testdata/demo/sigstore/kms-enclave.sigstore.json
root=testdata/demo/sigstore/trusted_root.json
artifact=$(ls testdata/demo/cdn/kms-enclave.*.js)
id="https://github.com/lukium/kms-demo/.github/workflows/release.yml@refs/tags/v1.0.0"
iss="https://token.actions.githubusercontent.com"
ours=(verify-bundle --bundle "$bundle" --trusted-root "$root" --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$artifact")
"$work/kms-verify" "${ours[@]}" >/dev/null || { echo "verify-bundle does not verify the demo bundle"; exit 1; }
have_cosign=false
if command -v cosign >/dev/null 2>&1; then
  theirs=(verify-blob --bundle "$bundle" --trusted-root "$root" --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$artifact")
  cosign "${theirs[@]}" >/dev/null 2>&1 && have_cosign=true || echo "cosign is installed but does not verify this bundle offline; timing kms-verify alone"
fi
o=() orss=() c=() crss=()
for i in $(seq "$rounds"); do
  /usr/bin/time -f '%e %M' -o "$work/t" "$work/kms-verify" "${ours[@]}" >/dev/null 2>&1
  read -r e m < "$work/t"; o+=("$e"); orss+=("$m")
  if $have_cosign; then
    /usr/bin/time -f '%e %M' -o "$work/t" cosign "${theirs[@]}" >/dev/null 2>&1
    read -r e m < "$work/t"; c+=("$e"); crss+=("$m")
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${o[@]}"); mr=$(median "${orss[@]}")
if $have_cosign; then
  mc=$(median "${c[@]}"); mcr=$(median "${crss[@]}")
  awk -v o="$mo" -v r="$mr" -v c="$mc" -v cr="$mcr" 'BEGIN { printf "ratio %.2f · kms-verify %.3f s, %.1f MiB · cosign %.3f s, %.1f MiB\n", (c > 0 ? o/c : 0), o, r/1024, c, cr/1024 }'
else
  awk -v o="$mo" -v r="$mr" 'BEGIN { printf "cosign not installed: no ratio · kms-verify %.3f s, %.1f MiB (median)\n", o, r/1024 }'
fi
