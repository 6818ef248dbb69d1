package report

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Check IDs the artifact comparison tables look up (set by package compare).
const (
	CheckSHA256 = "sha256"
	CheckSRI    = "sri"
	CheckSize   = "size"
)

// ReasonInconsistent is the reason shown when a Report claims Verified but
// its checks do not combine to Verified.
const ReasonInconsistent = "inconsistent-report"

// shortHex is how many digest characters the tables show before "…".
const shortHex = 16

// shortSRI is how many SRI characters the tables show before "…".
const shortSRI = 24

// Displayed is the verdict the renderers show: the Report's own verdict,
// except that a Report claiming Verified whose checks do not combine to
// Verified (or which has no checks) is shown as Inconclusive with
// ReasonInconsistent, and an unknown verdict is shown as Inconclusive. It
// returns the verdict, the reason, and whether it overrode the Report.
func (r *Report) Displayed() (verdict.Verdict, string, bool) {
	switch r.Verdict {
	case verdict.Verified:
		if v, _ := verdict.Combine(r.Checks); v != verdict.Verified {
			return verdict.Inconclusive, ReasonInconsistent, true
		}
		if r.Signature != nil && r.Signature.Status != verdict.StatusPass && r.Signature.Status != verdict.StatusSkipped {
			return verdict.Inconclusive, ReasonInconsistent, true
		}
		return verdict.Verified, r.Reason, false
	case verdict.Failed, verdict.Inconclusive:
		return r.Verdict, r.Reason, false
	default:
		return verdict.Inconclusive, ReasonInconsistent, true
	}
}

// skippedChecks returns the checks with StatusSkipped, plus a synthetic one
// for a skipped signature that has no check of its own.
func (r *Report) skippedChecks() []verdict.Check {
	var out []verdict.Check
	sigListed := false
	for _, c := range r.Checks {
		if c.Status == verdict.StatusSkipped {
			out = append(out, c)
			if c.ID == "signature" {
				sigListed = true
			}
		}
	}
	if r.Signature != nil && r.Signature.Status == verdict.StatusSkipped && !sigListed {
		out = append(out, verdict.Check{ID: "signature", Title: "Release signature", Status: verdict.StatusSkipped})
	}
	return out
}

// statusRank orders statuses from best to worst for artifact rows.
func statusRank(s verdict.Status) int {
	switch s {
	case verdict.StatusPass:
		return 0
	case verdict.StatusSkipped:
		return 1
	case verdict.StatusError:
		return 2
	case verdict.StatusFail:
		return 4
	default:
		return 3 // unknown: never better than an error
	}
}

// checkStatus returns the worst status of the checks with this id and
// subject, and false when there is none. A comparison row is never shown as
// matching without a check behind it.
func (r *Report) checkStatus(id, subject string) (verdict.Status, bool) {
	var worst verdict.Status
	found := false
	for _, c := range r.Checks {
		if c.ID != id || c.Subject != subject {
			continue
		}
		if !found || statusRank(c.Status) > statusRank(worst) {
			worst = c.Status
		}
		found = true
	}
	return worst, found
}

// statusLabel is the emoji and word for a check status (skipped is loud).
func statusLabel(s verdict.Status) string {
	switch s {
	case verdict.StatusPass:
		return "✅ PASS"
	case verdict.StatusFail:
		return "❌ FAIL"
	case verdict.StatusError:
		return "⚠️ ERROR"
	case verdict.StatusSkipped:
		return "⏭️ SKIPPED"
	default:
		// The raw value is in the JSON report; the label holds no data.
		return "❓ UNKNOWN STATUS"
	}
}

// matchLabel is the result word for a comparison row.
func matchLabel(s verdict.Status, found bool) string {
	if !found {
		return "➖ not checked"
	}
	switch s {
	case verdict.StatusPass:
		return "✅ MATCH"
	case verdict.StatusFail:
		return "❌ MISMATCH"
	case verdict.StatusError:
		return "⚠️ ERROR (not compared)"
	case verdict.StatusSkipped:
		return "⏭️ SKIPPED"
	default:
		return statusLabel(s)
	}
}

// headline is the one-line verdict used by both renderers; a diagnosed
// byte mismatch (rollback, CDN rewrite) says which it is.
func headline(v verdict.Verdict, reason string) string {
	switch v {
	case verdict.Verified:
		return "✅ VERIFIED"
	case verdict.Failed:
		if h := diagnosisHeadline(reason); h != "" {
			return h
		}
		return "❌ FAILED (possible tampering)"
	default:
		return "⚠️ COULD NOT VERIFY"
	}
}

// formatTime renders t in UTC to the second; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatMillis renders a duration given in milliseconds.
func formatMillis(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

// shorten cuts s to n runes plus "…" for table display.
func shorten(s string, n int) string { return safetext.Truncate(s, n+1) }

// safeLinkURL returns u when it is an https URL that can be written between
// Markdown link parentheses as it is, else "".
func safeLinkURL(u string) string {
	if u == "" || len(u) > 2048 || safetext.InlineMax(u, 0) != u || strings.ContainsAny(u, " <>\"'`|\\()[]{}^") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host == "" || p.User != nil || p.Opaque != "" {
		return ""
	}
	return u
}

var (
	ghRepoPath = lazyre.New(`^/([A-Za-z0-9_.-]{1,100})/([A-Za-z0-9_.-]{1,100}?)(\.git)?/?$`)
	hexCommit  = lazyre.New(`^[0-9a-f]{7,64}$`)
)

// commitURL links commit in repository when repository is a GitHub https URL
// (github.com, or the host of the run's server) and commit is hex; else "".
func (r *Report) commitURL(repository, commit string) string {
	if !hexCommit().MatchString(commit) {
		return ""
	}
	u, err := url.Parse(repository)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	host := "github.com"
	if r.Run != nil {
		if s, err := url.Parse(r.Run.ServerURL); err == nil && s.Scheme == "https" && s.Host != "" {
			host = s.Host
		}
	}
	if u.Host != "github.com" && u.Host != host {
		return ""
	}
	m := ghRepoPath().FindStringSubmatch(u.Path)
	if m == nil {
		return ""
	}
	return safeLinkURL("https://" + u.Host + "/" + m[1] + "/" + m[2] + "/commit/" + commit)
}

// rekorSearchURL is the public-good Rekor search link for a log index, or ""
// when the signature was checked against a private trusted root (a file) or
// has no log entry.
func rekorSearchURL(s *Signature) string {
	if !hasLogEntry(s) || strings.HasPrefix(s.TrustedRoot, "file:") {
		return ""
	}
	return fmt.Sprintf("https://search.sigstore.dev/?logIndex=%d", s.LogIndex)
}

// hasLogEntry reports whether the signature records a transparency-log entry.
func hasLogEntry(s *Signature) bool {
	return s.LogID != "" || s.IntegratedTime != nil || s.LogIndex > 0
}

// shortCommit is the usual 7-character display form of a hex commit.
func shortCommit(c string) string {
	if hexCommit().MatchString(c) && len(c) > 12 {
		return c[:12]
	}
	return c
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
