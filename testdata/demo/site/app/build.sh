#!/bin/sh
# Reproducible build of the KMS-shaped demo site (the enclave as deployed):
# content-addressed assets, SRI pins written into index.html, a worker that
# only the main script names (the page never does), and a manifest stamped
# with the build time, which is NOT reproducible: the verifier's
# configuration excludes it. Needs only sh, coreutils and awk.
set -eu
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set by the verifier}"
out=dist/enclave
rm -rf dist
mkdir -p "$out/assets" "$out/images" "$out/.well-known"

hash8() { sha256sum "$1" | cut -c1-8; }
# sri FILE prints sha384-<base64>, as a browser checks it.
sri() {
	oct=$(sha384sum "$1" | cut -c1-96 | awk '{ h = "0123456789abcdef"; for (i = 1; i <= 96; i += 2) printf "\\%03o", (index(h, substr($0, i, 1)) - 1) * 16 + index(h, substr($0, i + 1, 1)) - 1 }')
	printf 'sha384-%s' "$(printf "$oct" | base64 | tr -d '\n')"
}

w=$(hash8 src/worker.js)
cp src/worker.js "$out/assets/kms-worker.$w.js"
sed "s/__WORKER__/kms-worker.$w.js/" src/main.js >dist/main.tmp
m=$(hash8 dist/main.tmp)
mv dist/main.tmp "$out/assets/kms.$m.mjs"
c=$(hash8 src/style.css)
cp src/style.css "$out/assets/kms.$c.css"
cp public/images/* "$out/images/"
cp public/_headers "$out/_headers"
sed -e "s|__MODULE__|/assets/kms.$m.mjs|" -e "s|__MODULE_SRI__|$(sri "$out/assets/kms.$m.mjs")|" \
	-e "s|__STYLE__|/assets/kms.$c.css|" -e "s|__STYLE_SRI__|$(sri "$out/assets/kms.$c.css")|" \
	src/index.html >"$out/index.html"
printf '{"name":"ats-kms-enclave-demo","tag":"%s","builtAt":"%s"}\n' "${RELEASE_TAG:-dev}" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" >"$out/.well-known/kms-manifest.json"
echo "built $out"
