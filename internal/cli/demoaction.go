package cli

import (
	"context"
	"encoding/json"
	"os"
	"path"

	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/report"
)

// runDemoAction is mode: demo, this repository's own CI check of the
// action: the offline demo end to end inside the container, with the job
// summary, the verdict and reason outputs and the evidence folder in the
// workspace.
func runDemoAction(ctx context.Context, e Env, runner *ghaction.Runner) int {
	evidence := ActionEvidenceDir
	if ws := e.Getenv("GITHUB_WORKSPACE"); ws != "" {
		evidence = path.Join(ws, ActionEvidenceDir) // the job's working directory, made explicit
	}
	reportPath := path.Join(evidence, ActionReportName)
	summary := path.Join(evidence, "summary.md")
	code := runDemo(ctx, e, []string{"--evidence-dir", evidence, "--report", reportPath, "--summary", summary})
	if md, err := os.ReadFile(summary); err == nil {
		_ = runner.AppendSummary(string(md))
	}
	var rep report.Report
	if data, err := os.ReadFile(reportPath); err == nil && json.Unmarshal(data, &rep) == nil {
		shown, reason, _ := rep.Displayed()
		_ = runner.SetOutput("verdict", string(shown))
		_ = runner.SetOutput("reason", reason)
		_ = runner.SetOutput("report-path", reportPath)
	} else if code == ExitVerified {
		runner.Error("kms-verify demo", "the demo wrote no report")
		return ExitInconclusive
	}
	return code
}
