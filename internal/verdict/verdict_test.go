package verdict

import (
	"errors"
	"fmt"
	"testing"
)

func TestCombine(t *testing.T) {
	t.Parallel()
	pass := Check{ID: "sha256", Status: StatusPass}
	fail := Check{ID: "sri", Status: StatusFail, Reason: "sri-mismatch"}
	errc := Check{ID: "fetch", Status: StatusError, Reason: "network-error"}
	skip := Check{ID: "signature", Status: StatusSkipped}
	weird := Check{ID: "odd", Status: Status("maybe")}
	tests := []struct {
		name   string
		checks []Check
		want   Verdict
		reason string
	}{
		{"no checks is never verified", nil, Inconclusive, ReasonNoChecks},
		{"only skipped is never verified", []Check{skip}, Inconclusive, ReasonNoChecks},
		{"all pass", []Check{pass, pass}, Verified, ReasonOK},
		{"pass and skipped", []Check{pass, skip}, Verified, ReasonOK},
		{"a failure wins over errors", []Check{errc, pass, fail}, Failed, "sri-mismatch"},
		{"an error makes it inconclusive", []Check{pass, errc}, Inconclusive, "network-error"},
		{"an unknown status is not a pass", []Check{pass, weird}, Inconclusive, "odd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason := Combine(tt.checks)
			if got != tt.want || reason != tt.reason {
				t.Fatalf("Combine = %q, %q; want %q, %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		name   string
		err    error
		class  error
		reason string
	}{
		{"failed", Failedf("tampered", "x: %w", base), ErrFailed, "tampered"},
		{"inconclusive", Inconclusivef("network-error", "y"), ErrInconclusive, "network-error"},
		{"usage", Usagef("invalid-tag", "z"), ErrUsage, "invalid-tag"},
		{"wrapped keeps class", fmt.Errorf("stage: %w", Usagef("invalid-url", "u")), ErrUsage, "invalid-url"},
		{"unclassed is inconclusive", base, ErrInconclusive, "internal-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ClassOf(tt.err); got != tt.class {
				t.Errorf("ClassOf = %v, want %v", got, tt.class)
			}
			if got := ReasonOf(tt.err); got != tt.reason {
				t.Errorf("ReasonOf = %q, want %q", got, tt.reason)
			}
		})
	}
	if !errors.Is(Failedf("r", "x: %w", base), base) {
		t.Error("cause lost")
	}
	if New(ErrFailed, "r", nil) != nil {
		t.Error("New(nil) must be nil")
	}
}

func TestFromError(t *testing.T) {
	t.Parallel()
	c := FromError("signature", "bundle", "Signature", Failedf("identity-mismatch", "SAN differs"))
	if c.Status != StatusFail || c.Reason != "identity-mismatch" {
		t.Fatalf("got %+v", c)
	}
	c = FromError("fetch", "url", "Fetch", Inconclusivef("network-error", "reset"))
	if c.Status != StatusError || c.Reason != "network-error" {
		t.Fatalf("got %+v", c)
	}
}
