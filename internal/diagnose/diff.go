package diagnose

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of the human-readable diff.
const (
	// MaxDiffInput is the largest file (either copy) a diff is made of.
	MaxDiffInput = 16 << 20
	// DiffWidth is where long lines (a minified bundle is one line) are
	// split, so that a diff of a one-line file still points somewhere.
	DiffWidth = 120
	// MaxDiffOutput caps the diff written to the evidence folder.
	MaxDiffOutput = 256 << 10
	// diffContext is the number of unchanged lines shown around a change.
	diffContext = 3
)

// IsText reports whether b looks like text a diff is useful for: valid
// UTF-8 (or at least mostly printable) with no NUL byte.
func IsText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	if utf8.Valid(b) {
		return true
	}
	bad := 0
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			bad++
		}
	}
	return bad*100 < len(b)
}

// SplitLines splits b into lines of at most width bytes (a longer line is
// cut into pieces at fixed offsets; the cut never splits a UTF-8 sequence).
func SplitLines(b []byte, width int) []string {
	var out []string
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		for len(line) > width {
			cut := width
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			if cut == 0 {
				cut = width
			}
			out = append(out, string(line[:cut]))
			line = line[cut:]
		}
		out = append(out, string(line))
	}
	return out
}

// Diff is a unified diff of two texts.
type Diff struct {
	// Text is the unified diff ("--- a", "+++ b", one "@@" hunk), capped at
	// MaxDiffOutput bytes; it may hold any bytes of either file, so whoever
	// shows it must escape it.
	Text string
	// FirstLines are the first differing lines ("-..." and "+..."), at most
	// a handful, for the summary.
	FirstLines []string
	// Truncated is true when Text was cut at MaxDiffOutput.
	Truncated bool
}

// UnifiedDiff compares rebuilt and live as lines (long lines split at
// DiffWidth). The common leading and trailing lines are dropped and the
// changed middle becomes one hunk with diffContext lines around it: exact
// for one changed region (an injected script, a changed constant), and still
// correct, if long, for scattered changes. Inputs over MaxDiffInput are cut
// there.
func UnifiedDiff(nameA, nameB string, rebuilt, live []byte, firstN int) Diff {
	if len(rebuilt) > MaxDiffInput {
		rebuilt = rebuilt[:MaxDiffInput]
	}
	if len(live) > MaxDiffInput {
		live = live[:MaxDiffInput]
	}
	a, b := SplitLines(rebuilt, DiffWidth), SplitLines(live, DiffWidth)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	if pre == len(a) && pre == len(b) {
		return Diff{}
	}
	from := max(pre-diffContext, 0)
	toA := min(len(a)-suf+diffContext, len(a))
	toB := min(len(b)-suf+diffContext, len(b))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(from, toA-from), hunkRange(from, toB-from))
	var d Diff
	emit := func(prefix string, l string) bool {
		if sb.Len()+len(l)+2 > MaxDiffOutput {
			d.Truncated = true
			return false
		}
		sb.WriteString(prefix)
		sb.WriteString(l)
		sb.WriteByte('\n')
		return true
	}
	ok := true
	for i := from; i < pre && ok; i++ {
		ok = emit(" ", a[i])
	}
	for i := pre; i < len(a)-suf && ok; i++ {
		ok = emit("-", a[i])
		if len(d.FirstLines) < firstN {
			d.FirstLines = append(d.FirstLines, "-"+a[i])
		}
	}
	for i := pre; i < len(b)-suf && ok; i++ {
		ok = emit("+", b[i])
		if len(d.FirstLines) < 2*firstN {
			d.FirstLines = append(d.FirstLines, "+"+b[i])
		}
	}
	for i := len(a) - suf; i < toA && ok; i++ {
		ok = emit(" ", a[i])
	}
	if d.Truncated {
		sb.WriteString("[kms-verify: diff truncated]\n")
	}
	d.Text = sb.String()
	return d
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
