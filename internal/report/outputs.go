package report

import (
	"encoding/json"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ArtifactOutput is one element of the action's `artifacts` output: what a
// later step needs to act on one artifact without parsing the JSON report.
type ArtifactOutput struct {
	Name    string          `json:"name"`
	URL     string          `json:"url"`
	Verdict verdict.Verdict `json:"verdict"`
	SHA256  string          `json:"sha256"` // of the rebuilt artifact; "" when it was not rebuilt
	SRI     string          `json:"sri"`    // of the rebuilt artifact; "" when it was not rebuilt
}

// ownsCheck reports whether check c is about artifact a (named after it or
// its URLs).
func ownsCheck(a Artifact, c verdict.Check) bool {
	return c.Subject != "" && (c.Subject == a.Name || c.Subject == a.URL || (a.FinalURL != "" && c.Subject == a.FinalURL))
}

// ArtifactVerdict is the verdict for the i-th artifact alone, fail closed:
// its own checks decide (a failure of its bytes or signature is Failed even
// when others verified), but it is Verified only when at least one of its own
// checks passed, none failed or errored, and no check of the run that belongs
// to no artifact (source, build, recording the result…) failed or errored
// (that makes it Inconclusive).
// A report the renderers would not show as it claims (see Displayed) gives
// Inconclusive for an artifact that would otherwise be Verified.
func (r *Report) ArtifactVerdict(i int) verdict.Verdict {
	vs := r.artifactVerdicts()
	if i < 0 || i >= len(vs) {
		return verdict.Inconclusive
	}
	return vs[i]
}

// artifactVerdicts computes ArtifactVerdict for every artifact in one pass
// over the checks.
func (r *Report) artifactVerdicts() []verdict.Verdict {
	owners := map[string][]int{}
	for i, a := range r.Artifacts {
		for _, k := range []string{a.Name, a.URL, a.FinalURL} {
			if k != "" && !containsInt(owners[k], i) {
				owners[k] = append(owners[k], i)
			}
		}
	}
	own := make([][]verdict.Check, len(r.Artifacts))
	globalBad := verdict.Status("")
	for _, c := range r.Checks {
		idx := owners[c.Subject]
		if c.Subject == "" || len(idx) == 0 {
			if c.Status != verdict.StatusPass && c.Status != verdict.StatusSkipped && globalBad != verdict.StatusFail {
				globalBad = c.Status
			}
			continue
		}
		for _, i := range idx {
			own[i] = append(own[i], verdict.Check{ID: c.ID, Status: c.Status})
		}
	}
	_, _, overridden := r.Displayed()
	out := make([]verdict.Verdict, len(r.Artifacts))
	for i, a := range r.Artifacts {
		v, _ := verdict.Combine(own[i])
		switch {
		case v != verdict.Verified:
		case globalBad != "":
			// Something of the whole run (source, build, recording) failed
			// or errored: this artifact cannot be called verified, and its
			// own bytes are not shown to differ either.
			v = verdict.Inconclusive
		case overridden:
			// The run as a whole could not be verified for a reason the
			// checks do not carry (an inconsistent report).
			v = verdict.Inconclusive
		case a.Signature != nil && a.Signature.Status == verdict.StatusFail:
			v = verdict.Failed
		case a.Signature != nil && a.Signature.Status != verdict.StatusPass && a.Signature.Status != verdict.StatusSkipped:
			v = verdict.Inconclusive
		}
		out[i] = v
	}
	return out
}

func containsInt(s []int, x int) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// ArtifactsOutput is the JSON value of the `artifacts` output: one object
// per artifact, in the order of the configuration, never null.
func ArtifactsOutput(r *Report) (string, error) {
	out := make([]ArtifactOutput, 0, len(r.Artifacts))
	vs := r.artifactVerdicts()
	for i, a := range r.Artifacts {
		o := ArtifactOutput{Name: a.Name, URL: a.URL, Verdict: vs[i]}
		if a.Rebuilt != nil {
			o.SHA256, o.SRI = a.Rebuilt.SHA256, a.Rebuilt.SRI
		}
		out = append(out, o)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", verdict.Inconclusivef("report-write", "encoding the artifacts output: %v", err)
	}
	return string(b), nil
}
