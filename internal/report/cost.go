package report

import "strings"

// Cost splits a run's wall time into the user's build and the verifier's
// own work (checkout, toolchain, fetches, hashing, signature), so anyone can
// see what verifying costs beyond the rebuild.
type Cost struct {
	TotalMillis    int64 `json:"totalMillis"`
	BuildMillis    int64 `json:"buildMillis"`
	VerifierMillis int64 `json:"verifierMillis"`
}

// isBuildStage reports whether a timed stage runs the user's build command
// (the build, and any rebuild made to diagnose a mismatch).
func isBuildStage(stage string) bool {
	return stage == "build" || strings.HasPrefix(stage, "rebuild")
}

// CostOf derives the split from the report's timings and start/finish
// times; stages may overlap, so the verifier's share is the wall time not
// spent in a build stage, never negative.
func CostOf(r *Report) *Cost {
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return nil
	}
	c := &Cost{TotalMillis: r.FinishedAt.Sub(r.StartedAt).Milliseconds()}
	for _, t := range r.Timings {
		if isBuildStage(t.Stage) {
			c.BuildMillis += t.Millis
		}
	}
	c.VerifierMillis = max(c.TotalMillis-c.BuildMillis, 0)
	return c
}

// cost renders the split in one line.
func (m *mdWriter) cost(r *Report) {
	if c := r.Cost; c != nil {
		m.line("**Cost:** %s in all: the build %s, the verifier's own work %s.", formatMillis(c.TotalMillis), formatMillis(c.BuildMillis), formatMillis(c.VerifierMillis))
		m.line("")
	}
}

func (t *textWriter) cost(r *Report) {
	if c := r.Cost; c != nil {
		t.line("⏱️  %s in all: build %s, verifier %s", formatMillis(c.TotalMillis), formatMillis(c.BuildMillis), formatMillis(c.VerifierMillis))
		t.line("")
	}
}
