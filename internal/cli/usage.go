package cli

import (
	"fmt"
	"strings"

	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// usageError reports a run that cannot start because of its input (exit
// 3). Outside Actions that is one line on stderr. In Actions it is one
// annotation that names the action input (not the CLI flag), the outputs
// verdict=inconclusive and reason=usage, and a one-paragraph job summary,
// so a workflow that reads the outputs or the summary sees why.
func usageError(e Env, runner *ghaction.Runner, inActions bool, err error) int {
	reportUsage(e, runner, inActions, err)
	if inActions {
		_ = runner.SetOutputs([][2]string{{"verdict", "inconclusive"}, {"reason", ReasonUsage}, {"artifacts", "[]"}})
		_ = runner.AppendSummary(usageSummary(actionMessage(err)))
	}
	return ExitUsage
}

// reportUsage prints a usage error exactly once: as an annotation in
// Actions (which the log shows too), else as one line on stderr.
func reportUsage(e Env, runner *ghaction.Runner, inActions bool, err error) {
	if inActions {
		runner.Error("kms-verify: invalid input", actionMessage(err))
		return
	}
	fmt.Fprintf(e.Stderr, "kms-verify: %v\n", err)
}

// usageSummary is the job summary of a run that could not start.
func usageSummary(msg string) string {
	return "### ⚠️ kms-verify did not run: invalid input\n\n" + safetext.MarkdownText(msg) +
		" Nothing was verified (exit code 3, outputs `verdict=inconclusive`, `reason=usage`); fix the input in the workflow file and run it again.\n"
}

// actionMessage is a usage error as a workflow author reads it: flags
// rewritten into inputs, and the input named from the error's reason
// ("invalid-workflow") when the message itself names none.
func actionMessage(err error) string {
	msg := forAction(err.Error())
	if strings.Contains(msg, `input "`) || strings.Contains(msg, ": ") && actionInputs()[strings.SplitN(msg, ":", 2)[0]] {
		return msg
	}
	reason := verdict.ReasonOf(err)
	for _, p := range []string{"invalid-", "missing-"} {
		if name, ok := strings.CutPrefix(reason, p); ok && actionInputs()[name] {
			return `input "` + name + `": ` + msg
		}
	}
	return msg
}

var flagRef = lazyre.New(`(e\.g\. )?--([a-z][a-z0-9-]*)\b( [^\s,;:()]+)?`)

// actionInputs are the names forAction rewrites: every input the action has
// that is also a flag.
func actionInputs() map[string]bool {
	m := map[string]bool{"config": true, "mode": true, "github-token": true,
		// dispatch mode
		"workflow": true, "ref": true, "probability": true, "max-jitter": true, "force": true, "dry-run": true, "dispatch-inputs": true}
	for _, o := range verifyOptions {
		m[o.name] = true
	}
	return m
}

// forAction rewrites the CLI flags a usage message names ("--tag is
// required … e.g. --tag v1.0.1") into the action inputs a workflow author
// sets ("input \"tag\" is required … e.g. tag: v1.0.1"). Flags that are not
// inputs are left as they are.
func forAction(msg string) string {
	inputs := actionInputs()
	return flagRef().ReplaceAllStringFunc(msg, func(m string) string {
		p := flagRef().FindStringSubmatch(m)
		name := p[2]
		if !inputs[name] {
			return m
		}
		if p[1] != "" && p[3] != "" {
			return "e.g. " + name + ":" + p[3]
		}
		return p[1] + `input "` + name + `"` + p[3]
	})
}
