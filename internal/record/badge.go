package record

import (
	"fmt"
	"html"
	"time"
)

// Badge colours (shields.io's palette).
const (
	colourGreen  = "#4c1"
	colourRed    = "#e05d44"
	colourOrange = "#fe7d37"
	colourGrey   = "#9f9f9f"
)

// Badge draws badge.svg from the latest entry and its age at now: green
// "verified DATE", red "FAILED DATE", orange "could not verify DATE", and
// grey "stale DATE" once the latest run is older than maxGap (or "no runs").
// The date makes the age visible even where the SVG is cached.
func Badge(latest *Entry, now time.Time, maxGap time.Duration) []byte {
	msg, colour := "no runs", colourGrey
	if latest != nil {
		date := latest.Time.UTC().Format("2006-01-02")
		switch {
		case now.Sub(latest.Time) > maxGap:
			msg, colour = "stale "+date, colourGrey
		case latest.Verdict == "verified":
			msg, colour = "verified "+date, colourGreen
		case latest.Verdict == "failed":
			msg, colour = "FAILED "+date, colourRed
		default:
			msg, colour = "could not verify "+date, colourOrange
		}
	}
	return svg("kms-verify", msg, colour)
}

// svg renders a flat two-part badge; widths follow an approximate 7 px per
// character of Verdana 11px, as shields.io's static badges do.
func svg(label, msg, colour string) []byte {
	lw, mw := 10+7*len(label), 10+7*len(msg)
	w := lw + mw
	l, m := html.EscapeString(label), html.EscapeString(msg)
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">
<title>%s: %s</title>
<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text>
</g>
</svg>
`, w, l, m, l, m, w, lw, lw, mw, colour, w, lw/2, l, lw+mw/2, m))
}
