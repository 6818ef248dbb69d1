#!/usr/bin/env bash
# Run every Go fuzz target for a while (30 s each by default).
#
#   scripts/fuzz.sh                   # every target, 30 s each
#   FUZZTIME=2m scripts/fuzz.sh       # longer
#   scripts/fuzz.sh Inline Decode     # only targets whose name contains a word
#
# The list of targets is not kept by hand: it is every `func FuzzXxx(f
# *testing.F)` in a _test.go file of this module, found below. A failure
# leaves its input in the package's testdata/fuzz/FuzzXxx/ (commit it with
# the fix: it becomes a regression test of plain `go test`). Exit status: the
# number of failing targets (0 = all held).
set -u
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}

# package directory <TAB> target, one per line, sorted.
targets=$(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
  while read -r file; do
    dir=$(dirname "$file")
    grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r name; do
      printf '%s\t%s\n' "$dir" "$name"
    done
  done | sort)

if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

failed=0
ran=0
while IFS=$'\t' read -r dir name; do
  if [ $# -gt 0 ]; then
    keep=no
    for w in "$@"; do case "$name" in *"$w"*) keep=yes ;; esac; done
    [ "$keep" = yes ] || continue
  fi
  ran=$((ran + 1))
  echo "== $dir $name ($fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"; then
    echo "FAIL $dir $name"
    failed=$((failed + 1))
  fi
done <<<"$targets"

echo "fuzz.sh: $ran target(s) run, $failed failed"
exit "$failed"
