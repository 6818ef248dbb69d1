#!/usr/bin/env bash
# Runs `kms-verify verify-bundle` over the bundle-verify cases of a local
# checkout of https://github.com/sigstore/sigstore-conformance and reports
# how many outcomes agree with the suite (directory names ending in _fail
# must be rejected, the others accepted). Offline: cases without their own
# trusted_root.json use the public-good trusted root given as $2 (for
# example sigstore-go's examples/trusted-root-public-good.json).
#
#   scripts/conformance-bundles.sh ~/src/sigstore-conformance trusted-root-public-good.json
set -uo pipefail
suite=${1:?path to a sigstore-conformance checkout}
public_good=${2:?trusted_root.json of the public-good instance}
base=$suite/test/assets/bundle-verify
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT # leave nothing in /tmp
bin=$work/kms-verify
go build -o "$bin" "$(dirname "$0")/.." || exit 2
agree=0 disagree=0
for d in "$base"/*/; do
  name=$(basename "$d")
  [ -f "$d/bundle.sigstore.json" ] || continue
  artifact=$base/a.txt; [ -f "$d/artifact" ] && artifact=$d/artifact
  identity="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
  [ -f "$d/identity" ] && identity=$(cat "$d/identity")
  issuer="https://token.actions.githubusercontent.com"; [ -f "$d/issuer" ] && issuer=$(cat "$d/issuer")
  root=$public_good; [ -f "$d/trusted_root.json" ] && root=$d/trusted_root.json
  if [ -f "$d/key.pub" ]; then
    args=(--bundle "$d/bundle.sigstore.json" --key "$d/key.pub" --trusted-root "$root" "$artifact")
  else
    args=(--bundle "$d/bundle.sigstore.json" --certificate-identity "$identity" --certificate-oidc-issuer "$issuer" --trusted-root "$root" "$artifact")
  fi
  out=$("$bin" verify-bundle "${args[@]}" 2>&1); rc=$?
  want=accept; [[ $name == *_fail ]] && want=reject
  got=accept; [ "$rc" -ne 0 ] && got=reject
  if [ "$got" = "$want" ]; then
    agree=$((agree + 1))
  else
    disagree=$((disagree + 1))
    echo "DISAGREE $name: want $want, exit $rc: $(tail -n 1 <<<"$out")"
  fi
done
echo "conformance bundle-verify: $agree cases agree with the suite, $disagree disagree"
[ "$disagree" -eq 0 ]
