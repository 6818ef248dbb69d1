#!/bin/sh
# Renders the golden job summaries (verified and tampered run) the way GitHub
# shows them and takes a 1000 px wide screenshot of each, for the README:
#   docs/summary-verified.png, docs/summary-tampered.png
# Needs Go and Chromium (apt-get install -y chromium fonts-noto-color-emoji;
# pngquant, if installed, shrinks the PNGs). No test needs this.
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
for run in verified tampered; do
	go run ./scripts/summary-html "internal/report/testdata/golden/run-$run.md" "$work/$run.html"
	"$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --no-first-run --hide-scrollbars \
		--user-data-dir="$work/profile" \
		--screenshot="$work/$run.png" --window-size=1000,1400 "file://$work/$run.html" 2>/dev/null
	if command -v pngquant >/dev/null; then
		# 256 colours are plenty for text; keeps the committed PNGs small.
		pngquant --force --quality=70-95 --output "docs/summary-$run.png" "$work/$run.png"
	else
		cp "$work/$run.png" "docs/summary-$run.png"
	fi
	echo "docs/summary-$run.png"
done
