package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// This file holds what the Markdown and the text renderers share: which
// checks are failures, how passing and skipped checks are grouped, which
// evidence file proves a failure, and the lines of the verdict box. It works
// on any verdict.Check, so a new kind of check reaches the verdict box, the
// failures list and the grouped section without code of its own. Nothing
// here escapes: each renderer escapes for its medium.

// Bounds that keep every rendering of a huge run readable (and the job
// summary under GitHub's limit): the rest is in the JSON report.
const (
	// maxFailuresShown is how many failures and errors are listed one by one.
	maxFailuresShown = 50
	// maxSubjectsShown is how many subjects a grouped line names.
	maxSubjectsShown = 5
	// maxGroupsShown is how many kinds of passing or skipped checks are listed.
	maxGroupsShown = 200
)

// failures returns the failed checks, then the errored ones (and any check
// with an unknown status, which is never a pass), in report order.
func (r *Report) failures() []verdict.Check {
	var fails, errs []verdict.Check
	for _, c := range r.Checks {
		switch c.Status {
		case verdict.StatusPass, verdict.StatusSkipped:
		case verdict.StatusFail:
			fails = append(fails, c)
		default:
			errs = append(errs, c)
		}
	}
	return append(fails, errs...)
}

// checkGroup is every check of one kind (ID) with one status.
type checkGroup struct {
	ID       string
	Title    string
	Status   verdict.Status
	Count    int
	Subjects []string // distinct, at most maxSubjectsShown
	More     int      // distinct subjects not listed
	Message  string   // the first non-empty message (skipped groups say why)
}

// groups returns the checks with status st grouped by ID, in order of first
// appearance, at most maxGroupsShown groups, and the number of groups left out.
func (r *Report) groups(st verdict.Status) ([]checkGroup, int) {
	var out []checkGroup
	index := map[string]int{}
	seen := map[string]map[string]bool{}
	for _, c := range r.Checks {
		if c.Status != st {
			continue
		}
		i, ok := index[c.ID]
		if !ok {
			i = len(out)
			index[c.ID] = i
			seen[c.ID] = map[string]bool{}
			out = append(out, checkGroup{ID: c.ID, Title: c.Title, Status: st})
		}
		g := &out[i]
		g.Count++
		if g.Message == "" {
			g.Message = c.Message
		}
		if c.Subject != "" && !seen[c.ID][c.Subject] {
			seen[c.ID][c.Subject] = true
			if len(g.Subjects) < maxSubjectsShown {
				g.Subjects = append(g.Subjects, c.Subject)
			} else {
				g.More++
			}
		}
	}
	if st == verdict.StatusSkipped {
		if s := r.Signature; s != nil && s.Status == verdict.StatusSkipped {
			if _, listed := index["signature"]; !listed {
				out = append(out, checkGroup{ID: "signature", Title: "Release signature", Status: st, Count: 1, Message: s.Message})
			}
		}
	}
	if len(out) > maxGroupsShown {
		return out[:maxGroupsShown], len(out) - maxGroupsShown
	}
	return out, 0
}

// countStatus counts the checks with status st.
func (r *Report) countStatus(st verdict.Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == st {
			n++
		}
	}
	return n
}

// evidenceKinds maps a check's kind to the evidence files that prove it:
// "%s" is the artifact's evidence name. Kinds not listed get every file
// named after their subject.
var evidenceKinds = []struct {
	prefix string
	files  []string
}{
	{"source", []string{"git.log"}},
	{"workspace", nil},
	{"build", []string{"build.log"}},
	{"page", []string{"page.html"}},
	{"sha256", []string{"rebuilt-%s", "live-%s"}},
	{"sri", []string{"rebuilt-%s", "live-%s"}},
	{"size", []string{"rebuilt-%s", "live-%s"}},
	{"content-address", []string{"live-%s", "live-%s.headers.txt"}},
	{"fetch", []string{"live-%s.headers.txt"}},
	{"signature", []string{"bundle-%s"}},
	{"bundle", []string{"bundle-%s"}},
	{"subject", []string{"bundle-%s"}},
	{"predicate", []string{"bundle-%s"}},
	{"identity", []string{"bundle-%s"}},
	{"provenance", []string{"bundle-%s"}},
}

// evidenceFor names the evidence files that hold the proof of c: the
// check's own list when it has one, else the files its kind and subject
// point at that exist in the evidence folder. Empty without a folder.
func (r *Report) evidenceFor(c verdict.Check) []string {
	if len(c.Evidence) > 0 {
		return c.Evidence
	}
	if r.Evidence == nil {
		return nil
	}
	name := c.Subject
	for _, a := range r.Artifacts {
		if ownsCheck(a, c) {
			name = a.Name
			break
		}
	}
	safe := SafeName(name)
	var want []string
	matched := false
	for _, k := range evidenceKinds {
		if c.ID == k.prefix || strings.HasPrefix(c.ID, k.prefix+".") || strings.HasPrefix(c.ID, k.prefix+"-") {
			matched = true
			for _, f := range k.files {
				want = append(want, strings.ReplaceAll(f, "%s", safe))
			}
			break
		}
	}
	var out []string
	for _, f := range r.Evidence.Files {
		for _, w := range want {
			// bundle-NAME matches bundle-NAME.sigstore.json and bundle-NAME-2.sigstore.json.
			if f == w || (strings.HasPrefix(w, "bundle-") && (strings.HasPrefix(f, w+".") || strings.HasPrefix(f, w+"-"))) {
				out = append(out, f)
				break
			}
		}
		if !matched && safe != "" && strings.Contains(f, safe) {
			out = append(out, f)
		}
	}
	return out
}

// boxLine is one line of the verdict box: a label and plain-text parts
// (each renderer escapes and links them).
type boxLine struct {
	Label string
	Parts []boxPart
}

// boxPart is a piece of a box line: Text, rendered as code when Code, and
// linked to URL when the renderer can (Markdown, for a safe https URL).
type boxPart struct {
	Text string
	Code bool
	URL  string
}

func txt(s string) boxPart               { return boxPart{Text: s} }
func code(s string) boxPart              { return boxPart{Text: s, Code: true} }
func linked(s, u string, c bool) boxPart { return boxPart{Text: s, Code: c, URL: u} }

// verdictBox returns the (at most five) lines under the verdict: what
// failed, the release, the signer, the verifier and the duration.
func (r *Report) verdictBox() []boxLine {
	var lines []boxLine
	if f := r.failures(); len(f) > 0 {
		c := f[0]
		parts := []boxPart{}
		if c.Subject != "" {
			parts = append(parts, code(c.Subject), txt(": "))
		}
		parts = append(parts, txt(firstNonEmpty(c.Title, c.ID)))
		if c.Expected != "" || c.Actual != "" {
			exp, act := pairValues(c.Expected, c.Actual)
			parts = append(parts, txt(" — expected "), code(exp), txt(", got "), code(act))
		} else if c.Message != "" {
			parts = append(parts, txt(" — "), txt(c.Message))
		}
		if len(f) > 1 {
			parts = append(parts, txt(fmt.Sprintf(" (and %s)", plural(len(f)-1, "more", "more"))))
		}
		label := "What failed"
		if c.Status != verdict.StatusFail {
			label = "What went wrong"
		}
		lines = append(lines, boxLine{label, parts})
	}
	if s := r.Source; s.Tag != "" || s.Commit != "" {
		parts := []boxPart{}
		if s.Tag != "" {
			parts = append(parts, txt("tag "), code(s.Tag))
		}
		if s.Commit != "" {
			parts = append(parts, txt(" · commit "), linked(shortCommit(s.Commit), r.commitURL(s.Repository, s.Commit), true))
		}
		if s.SourceDateEpoch != 0 {
			parts = append(parts, txt(" · "+time.Unix(s.SourceDateEpoch, 0).UTC().Format("2006-01-02")))
		}
		if s.Repository != "" {
			parts = append(parts, txt(" · "), code(displayRepo(s.Repository)))
		}
		lines = append(lines, boxLine{"Release", parts})
	}
	lines = append(lines, boxLine{"Signed by", r.signerParts()})
	t := r.Tool
	vparts := []boxPart{txt(strings.TrimSpace(firstNonEmpty(t.Name, "kms-verify") + " " + t.Version))}
	if hexCommit().MatchString(t.Commit) {
		vparts = append(vparts, txt(" · code at "), linked(shortCommit(t.Commit), toolCommitURL(t), true))
	} else {
		vparts = append(vparts, txt(" · commit unknown"))
	}
	lines = append(lines, boxLine{"Verifier", vparts})
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		lines = append(lines, boxLine{"Duration", []boxPart{txt(formatMillis(r.FinishedAt.Sub(r.StartedAt).Milliseconds()) + ", finished " + formatTime(r.FinishedAt))}})
	}
	return lines
}

// signerParts says who signed: workflow, signing run and Rekor entry.
func (r *Report) signerParts() []boxPart {
	s := r.Signature
	switch {
	case s == nil:
		return []boxPart{txt("⚠️ not evaluated (the run stopped before the signature check)")}
	case s.Status == verdict.StatusSkipped:
		return []boxPart{txt("⏭️ SKIPPED (--allow-unsigned): not checked, so nothing here proves who built this release")}
	}
	var parts []boxPart
	switch s.Status {
	case verdict.StatusPass:
	case verdict.StatusFail:
		parts = append(parts, txt("❌ INVALID: "))
	default:
		parts = append(parts, txt("⚠️ could not be checked: "))
	}
	who := firstNonEmpty(displayRepo(s.Workflow), s.SAN, s.KeyHint)
	switch {
	case who != "":
		parts = append(parts, code(who))
	case s.Status != verdict.StatusPass:
		parts = append(parts, txt(firstNonEmpty(s.Message, "see the signature details")))
	}
	if s.RunURL != "" {
		parts = append(parts, txt(" · "), linked("signing run", s.RunURL, false))
	}
	if hasLogEntry(s) {
		parts = append(parts, txt(" · "), linked(fmt.Sprintf("Rekor entry %d", s.LogIndex), rekorSearchURL(s), false))
	}
	return parts
}

// toolCommitURL links the verifier's own code at its commit, never at a
// tag or branch (a moving ref proves nothing about what ran): only a
// Tool.URL that ends in that exact commit is used.
func toolCommitURL(t Tool) string {
	if !hexCommit().MatchString(t.Commit) {
		return ""
	}
	if strings.HasSuffix(t.URL, "/commit/"+t.Commit) || strings.HasSuffix(t.URL, "/tree/"+t.Commit) {
		return safeLinkURL(t.URL)
	}
	return ""
}

// displayRepo drops the scheme and the github.com host of a URL, which
// only make it longer.
func displayRepo(u string) string {
	u = strings.TrimPrefix(u, "https://")
	return strings.TrimPrefix(u, "github.com/")
}

// pairValues prepares an expected and an actual value for display. Long
// values that already differ in their first shortHex characters (digests)
// are shortened to those; values that differ later (a SAN naming another
// workflow) are kept whole, up to mdMaxField runes, so the difference shows.
// The full values are in the details and the JSON report.
func pairValues(expected, actual string) (string, string) {
	show := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return safetext.Truncate(s, mdMaxField)
	}
	long := len(expected) > 2*shortHex && len(actual) > 2*shortHex
	if long && shorten(expected, shortHex) != shorten(actual, shortHex) {
		return shorten(expected, shortHex), shorten(actual, shortHex)
	}
	return show(expected), show(actual)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bytesLabel says whether the served bytes are the rebuilt ones, from the
// sha256 check (never "identical" without a check behind it).
func bytesLabel(s verdict.Status, found bool) string {
	if !found {
		return "bytes not checked"
	}
	switch s {
	case verdict.StatusPass:
		return "bytes identical"
	case verdict.StatusFail:
		return "bytes differ"
	case verdict.StatusSkipped:
		return "bytes not compared (skipped)"
	default:
		return "bytes not compared"
	}
}

// verdictLabel is the short result of one artifact.
func verdictLabel(v verdict.Verdict) string {
	switch v {
	case verdict.Verified:
		return "✅ verified"
	case verdict.Failed:
		return "❌ FAILED"
	default:
		return "⚠️ could not verify"
	}
}
