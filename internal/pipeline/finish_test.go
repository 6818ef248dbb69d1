package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/report"
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
