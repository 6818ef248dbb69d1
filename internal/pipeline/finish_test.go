package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// TestEvidenceNotWrittenIsNotVerified: a run whose checks all passed but
// whose evidence could not be written is inconclusive (record-failed).
func TestEvidenceNotWrittenIsNotVerified(t *testing.T) {
	t.Parallel()
	for _, broken := range []bool{false, true} {
		ev, err := report.NewEvidence(filepath.Join(t.TempDir(), "evidence"))
		if err != nil {
			t.Fatal(err)
		}
		if broken {
			if err := os.Mkdir(filepath.Join(ev.Dir, "page.html"), 0o700); err != nil {
				t.Fatal(err)
			}
			_ = ev.WriteFile("page.html", []byte("<html>")) // as the page stage does, ignoring the error
		}
		r := &run{d: Deps{Now: time.Now, Log: nopLogger{}}, rep: &report.Report{}, evidence: ev}
		r.add(verdict.Check{ID: "sha256", Subject: "a", Status: verdict.StatusPass})
		r.finish()
		want, reason := verdict.Verified, verdict.ReasonOK
		if broken {
			want, reason = verdict.Inconclusive, ReasonRecordFailed
		}
		if r.rep.Verdict != want || r.rep.Reason != reason {
			t.Errorf("broken=%v: %s/%s, want %s/%s", broken, r.rep.Verdict, r.rep.Reason, want, reason)
		}
	}
}

// TestHeadlineNamesTheFirstFailure: the headline says what kind of failure
// the first failing check is, and says "tampering" only where bytes differ.
func TestHeadlineNamesTheFirstFailure(t *testing.T) {
	t.Parallel()
	fail := func(id, subject, reason string) verdict.Check {
		return verdict.Check{ID: id, Subject: subject, Title: id, Status: verdict.StatusFail, Reason: reason, Message: "why"}
	}
	cases := []struct {
		checks []verdict.Check
		prefix string
	}{
		{[]verdict.Check{fail("headers", "/kms.html Content-Security-Policy", headers.ReasonHeaderMismatch)}, "HEADERS DIFFER FROM THE RELEASE: /kms.html Content-Security-Policy"},
		{[]verdict.Check{fail("header-policy", "/kms.html Content-Security-Policy", headers.ReasonHeaderPolicy)}, "HEADER POLICY BROKEN: /kms.html"},
		{[]verdict.Check{fail("sha256", "kms.mjs", compare.ReasonTampered), fail("headers", "/kms.html X", headers.ReasonHeaderMismatch)}, "POSSIBLE TAMPERING: check \"sha256\""},
		{[]verdict.Check{fail("sha256", "kms.mjs", diagnose.ReasonRollback)}, "ROLLBACK:"},
	}
	for _, c := range cases {
		v, _ := verdict.Combine(c.checks)
		got := message(v, c.checks, source.Result{}, config.Config{})
		if !strings.HasPrefix(got, c.prefix) {
			t.Errorf("headline %q, want it to start with %q", got, c.prefix)
		}
		if strings.HasPrefix(c.prefix, "HEADER") && strings.Contains(got, "TAMPERING") {
			t.Errorf("a header failure is headlined as tampering: %q", got)
		}
	}
}
