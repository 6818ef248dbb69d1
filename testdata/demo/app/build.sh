#!/bin/sh
# Reproducible build of the demo enclave. It needs only sh and coreutils:
# a deterministic concatenation stamped with the release tag, commit and
# SOURCE_DATE_EPOCH, written under a content-addressed file name.
set -eu
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set by the verifier}"
rm -rf dist
mkdir -p dist
{
	printf '/*! kms-demo-enclave %s (commit %s, SOURCE_DATE_EPOCH %s) */\n' "${RELEASE_TAG:-dev}" "${RELEASE_COMMIT:-unknown}" "$SOURCE_DATE_EPOCH"
	cat src/enclave.js src/worker.js
} >dist/bundle.tmp
if command -v sha256sum >/dev/null 2>&1; then
	h=$(sha256sum dist/bundle.tmp | cut -c1-8)
else
	h=$(shasum -a 256 dist/bundle.tmp | cut -c1-8)
fi
mv dist/bundle.tmp "dist/kms-enclave.$h.js"
echo "built dist/kms-enclave.$h.js"
