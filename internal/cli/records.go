package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/pipeline"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ReasonRecordFailed is the reason of a run whose result could not be
// recorded (JSON report, evidence copy, summary file, step outputs or job
// summary): nobody could audit it, so it is never verified.
const ReasonRecordFailed = pipeline.ReasonRecordFailed

// maxRecordRounds bounds the write-downgrade-rewrite loop: after one
// downgrade the verdict cannot change again (it is inconclusive or failed),
// so a second round only rewrites what already said the old verdict.
const maxRecordRounds = 3

// recorder writes every record of one run so that they all tell the same
// verdict and reason as the exit code: whenever a write fails, the run is
// downgraded (a "record" error check, so never verified) and every record
// already written is written again with the new verdict. Records that can
// be rewritten (files) go first, then the step outputs (a later value of an
// output overrides an earlier one), then the job summary, which can only be
// appended to and so is written once, last.
type recorder struct {
	e         Env
	cfg       config.Config
	rep       *report.Report
	runner    *ghaction.Runner
	inActions bool
	errs      []error
}

// writeRecords writes the records of rep and returns every write error
// (already reflected in rep's verdict).
//
// public, when set, writes the records kept beyond this run (the VSA
// predicates, the public record) between the files and the outputs; it
// reports each failure through its callback, which downgrades the run like
// any other failure to record.
func writeRecords(e Env, cfg config.Config, rep *report.Report, runner *ghaction.Runner, inActions bool, usage bool, public func(fail func(what string, err error))) error {
	rc := &recorder{e: e, cfg: cfg, rep: rep, runner: runner, inActions: inActions}
	rc.files()
	if public != nil {
		changed := false
		public(func(what string, err error) {
			if rc.fail(what, fmt.Errorf("%s: %w", what, err)) {
				changed = true
			}
		})
		if changed {
			rc.files()
		}
	}
	if inActions {
		rc.outputs(usage)
		md, err := markdown(rep)
		if err == nil {
			err = runner.AppendSummary(md)
		}
		if err != nil && rc.fail("the job summary", fmt.Errorf("job summary: %w", err)) {
			// The summary is not there; everything else must now say so too.
			rc.files()
			rc.outputs(usage)
		}
	}
	return errors.Join(rc.errs...)
}

// fail records that what could not be written and downgrades the report.
// It reports whether the displayed verdict or reason changed (so records
// already written must be rewritten).
func (rc *recorder) fail(what string, err error) bool {
	rc.errs = append(rc.errs, err)
	before, reason, _ := rc.rep.Displayed()
	rc.rep.Checks = append(rc.rep.Checks, verdict.Check{
		ID: "record", Subject: what, Title: "Record the result", Status: verdict.StatusError,
		Reason: ReasonRecordFailed, Message: err.Error(),
	})
	v, why := verdict.Combine(rc.rep.Checks)
	if v == verdict.Failed && rc.rep.Verdict == verdict.Failed {
		// Tampering stays proven; the reason of the failure stays first.
		return false
	}
	rc.rep.Verdict, rc.rep.Reason = v, why
	if before == verdict.Verified || rc.rep.Reason == ReasonRecordFailed {
		rc.rep.Message = fmt.Sprintf("Could not verify: the result could not be recorded (%s): %v", what, err)
	}
	after, reason2, _ := rc.rep.Displayed()
	return after != before || reason2 != reason
}

// files writes the JSON report, its evidence copy and the summary file,
// rewriting them all as long as a failure changes the verdict.
func (rc *recorder) files() {
	for round := 0; round < maxRecordRounds; round++ {
		changed := false
		for _, f := range rc.fileRecords() {
			data, err := f.render(rc.rep)
			if err == nil {
				err = rc.e.writeFile(f.path, []byte(data))
			}
			if err != nil && rc.fail(f.what, fmt.Errorf("%s: %w", f.what, err)) {
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

type fileRecord struct {
	what, path string
	render     func(*report.Report) (string, error)
}

func (rc *recorder) fileRecords() []fileRecord {
	var out []fileRecord
	jsonText := func(r *report.Report) (string, error) {
		var sb strings.Builder
		err := report.WriteJSON(&sb, r)
		return sb.String(), err
	}
	if rc.cfg.Report != "" {
		out = append(out, fileRecord{"the JSON report " + rc.cfg.Report, rc.cfg.Report, jsonText})
	}
	if rc.cfg.EvidenceDir != "" && rc.rep.Evidence != nil {
		ev := filepath.Join(rc.cfg.EvidenceDir, report.EvidenceReportName)
		if filepath.Clean(ev) != filepath.Clean(rc.cfg.Report) {
			out = append(out, fileRecord{"the evidence copy of the report " + ev, ev, jsonText})
		}
	}
	if rc.cfg.Summary != "" {
		out = append(out, fileRecord{"the summary file " + rc.cfg.Summary, rc.cfg.Summary, func(r *report.Report) (string, error) {
			if IsMarkdownPath(rc.cfg.Summary) {
				return markdown(r)
			}
			var sb strings.Builder
			err := report.WriteText(&sb, r)
			return sb.String(), err
		}})
	}
	return out
}

// IsMarkdownPath reports whether a --summary file is meant to be rendered
// (.md or .markdown): it then gets the job summary's Markdown; any other
// name gets the plain text of the terminal, with no Markdown escaping.
func IsMarkdownPath(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".md" || ext == ".markdown"
}

func markdown(r *report.Report) (string, error) {
	var sb strings.Builder
	err := report.WriteMarkdown(&sb, r)
	return sb.String(), err
}

// outputs sets every step output in one write; if that fails the run is
// downgraded, the files are rewritten, and the outputs are tried once more.
func (rc *recorder) outputs(usage bool) {
	err := rc.runner.SetOutputs(outputPairs(rc.cfg, rc.rep, usage))
	if err == nil {
		return
	}
	if rc.fail("the step outputs", fmt.Errorf("step outputs: %w", err)) {
		rc.files()
		if err := rc.runner.SetOutputs(outputPairs(rc.cfg, rc.rep, usage)); err != nil {
			rc.errs = append(rc.errs, fmt.Errorf("step outputs: %w", err))
		}
	}
}

// ReasonUsage is the reason output of a run that stopped on invalid input (exit 3).
const ReasonUsage = "usage"

// outputPairs are the step outputs: they say what the summary shows and the
// exit code means.
func outputPairs(cfg config.Config, rep *report.Report, usage bool) [][2]string {
	shown, reason, _ := rep.Displayed()
	if usage {
		shown, reason = verdict.Inconclusive, ReasonUsage
	}
	arts, err := report.ArtifactsOutput(rep)
	if err != nil {
		arts = "[]"
	}
	sha, sri := "", ""
	if len(rep.Artifacts) > 0 && rep.Artifacts[0].Rebuilt != nil {
		sha, sri = rep.Artifacts[0].Rebuilt.SHA256, rep.Artifacts[0].Rebuilt.SRI
	}
	return [][2]string{{"verdict", string(shown)}, {"reason", reason}, {"report-path", cfg.Report},
		{"sha256", sha}, {"sri", sri}, {"artifacts", arts}}
}

// writeFile is Env.WriteFile, or an atomic write with owner-only permissions.
func (e Env) writeFile(path string, data []byte) error {
	if e.WriteFile != nil {
		return e.WriteFile(path, data)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return verdict.Inconclusivef("write-file", "creating the folder of %s: %v", path, err)
		}
	}
	return report.WriteFileAtomic(path, data, 0o644)
}
