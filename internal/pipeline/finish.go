package pipeline

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/site"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func (r *run) finish() {
	r.relabelInjected()
	if r.evidence != nil {
		// Evidence that could not be written is a result nobody can audit:
		// never verified, whatever else passed.
		if f := r.evidence.Failures(); len(f) > 0 {
			r.add(verdict.Check{ID: "record", Subject: r.evidence.Dir, Title: "Record the evidence", Status: verdict.StatusError,
				Reason: ReasonRecordFailed, Message: fmt.Sprintf("%d evidence file(s) could not be written; first: %s", len(f), f[0])})
		}
	}
	v, reason := verdict.Combine(r.checks)
	r.rep.Verdict, r.rep.Reason = v, reason
	r.rep.Checks = r.checks
	if r.rep.Checks == nil {
		r.rep.Checks = []verdict.Check{}
	}
	r.rep.Message = message(v, r.checks, r.src, r.cfg)
	if v == verdict.Verified {
		// A run that passes because --allow-previous accepted an earlier
		// release must say so in its headline, not claim the checked one.
		for _, d := range r.rep.Diagnoses {
			if d.Accepted {
				r.rep.Message = fmt.Sprintf("ACCEPTED EARLIER RELEASE: %s serves %s, %d release(s) behind %s, which --allow-previous %d accepts; every other check passed.",
					d.Name, d.ServedTag, d.Behind, r.src.Tag, r.cfg.AllowPrevious)
				break
			}
		}
	}
	if r.src.Commit != "" {
		r.rep.Reproduce = reproduce(r.cfg, r.src, r.arts)
	}
	r.rep.FinishedAt = r.d.Now().UTC()
	r.rep.Cost = report.CostOf(r.rep)
	if r.evidence != nil {
		// The caller writes the report itself into the folder (it must be
		// rewritten if recording anything else fails), so it is listed too.
		ev := &report.EvidenceList{Dir: r.evidence.Dir, Files: []string{report.EvidenceReportName}}
		if entries, err := os.ReadDir(r.evidence.Dir); err == nil {
			for _, e := range entries {
				if e.Name() != report.EvidenceReportName && !strings.HasPrefix(e.Name(), ".") {
					ev.Files = append(ev.Files, e.Name())
				}
			}
		}
		sort.Strings(ev.Files)
		r.rep.Evidence = ev
		// Private while the build could run; readable now for the upload step.
		if err := r.evidence.Publish(); err != nil {
			r.d.Log.Logf("%v", err)
		}
	}
}

func message(v verdict.Verdict, checks []verdict.Check, src source.Result, cfg config.Config) string {
	switch v {
	case verdict.Verified:
		skipped := 0
		for _, c := range checks {
			if c.Status == verdict.StatusSkipped {
				skipped++
			}
		}
		what := "The live artifact(s) are"
		switch {
		case len(cfg.Sites) > 0 && len(cfg.Artifacts) > 0:
			what = "The live site(s) and artifact(s) are"
		case len(cfg.Sites) > 0:
			what = "Every served file of the site(s), and everything their pages load, is"
		}
		msg := fmt.Sprintf("%s byte-for-byte what tag %s (commit %s) rebuilds to", what, src.Tag, short(src.Commit))
		if skipped > 0 {
			return msg + fmt.Sprintf("; %d check(s) were SKIPPED and prove nothing.", skipped)
		}
		return msg + ", and the release signature is from the expected signer."
	case verdict.Failed:
		for _, c := range checks {
			if c.Status != verdict.StatusFail {
				continue
			}
			detail := firstNonEmpty(c.Message, c.Reason)
			switch c.Reason {
			case diagnose.ReasonRollback:
				return fmt.Sprintf("ROLLBACK: the CDN serves an earlier release for %s: %s", c.Subject, detail)
			case diagnose.ReasonCDNRewrite:
				return fmt.Sprintf("CDN REWRITE SUSPECTED for %s: %s", c.Subject, detail)
			case headers.ReasonHeaderMismatch:
				// The bytes may all match: a header is not bytes of code, and a
				// CDN setting can drop it as well as an attacker can.
				return fmt.Sprintf("HEADERS DIFFER FROM THE RELEASE: %s is not served as the release declares (%s); browsers get weaker protection than the release ships, by CDN configuration or by tampering", c.Subject, detail)
			case headers.ReasonHeaderPolicy:
				return fmt.Sprintf("HEADER POLICY BROKEN: %s breaks the configured header policy: %s", c.Subject, detail)
			}
			if c.ID == compare.IDPageIntegrity {
				return fmt.Sprintf("The page does not pin the verified bytes for %s (check %q): %s", c.Subject, c.ID, detail)
			}
			if c.Reason == site.ReasonUnverifiedSubresource {
				return fmt.Sprintf("UNVERIFIED CODE: a page loads %s, which nothing verifies (check %q): %s", c.Subject, c.ID, detail)
			}
			return fmt.Sprintf("POSSIBLE TAMPERING: check %q (%s) failed for %s: %s", c.ID, c.Title, c.Subject, detail)
		}
	}
	for _, c := range checks {
		if c.Status == verdict.StatusError {
			return fmt.Sprintf("Could not verify: %s: %s", c.Title, firstNonEmpty(c.Message, c.Reason))
		}
	}
	return "Could not verify: no check was carried out."
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func digests(s digest.Sum) *report.Digests {
	return &report.Digests{SHA256: s.SHA256Hex(), SRI: s.SRI("sha384"), Size: s.Size}
}

func signatureReport(s sigstore.Signer, trust string) *report.Signature {
	sig := &report.Signature{
		Bundle: s.Bundle, Kind: s.Kind, SAN: s.SAN, Issuer: s.Issuer, Workflow: s.Workflow,
		Repository: s.Repository, Ref: s.Ref, Commit: s.Commit, RunnerEnvironment: s.RunnerEnvironment,
		Trigger: s.Trigger, RunURL: s.RunURL, KeyHint: s.KeyHint, LogIndex: s.LogIndex, LogID: s.LogID,
		Timestamps: s.Timestamps, PredicateType: s.PredicateType, TrustedRoot: trust,
	}
	if !s.IntegratedTime.IsZero() {
		t := s.IntegratedTime.UTC()
		sig.IntegratedTime = &t
	}
	return sig
}
