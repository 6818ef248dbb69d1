package cli

import (
	"context"
	"path"
	"strings"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/pipeline"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Defaults of the container action, relative to the workspace so that a later
// actions/upload-artifact step on the host finds the files (RUNNER_TEMP is not
// mounted into docker actions).
const (
	ActionEvidenceDir = "kms-verify-evidence"
	ActionReportName  = report.EvidenceReportName
)

// runAction is the container ENTRYPOINT: it reads the action inputs, which
// carry the same names as the verify flags, and writes outputs, the job
// summary and annotations.
func runAction(ctx context.Context, e Env) int {
	runner := ghaction.New(e.Getenv, e.Stdout, e.Rand)
	token := runner.Input("github-token")
	runner.AddMask(token)
	switch mode := strings.ToLower(runner.Input("mode")); mode {
	case "", "verify":
	case "dispatch":
		return runDispatchAction(ctx, e, runner, token)
	case "demo":
		return runDemoAction(ctx, e, runner)
	default:
		return usageError(e, runner, true, verdict.Usagef("invalid-mode", "input \"mode\" is %q; it must be verify, dispatch or demo", mode))
	}
	cfg, err := actionConfig(runner, e.Getenv)
	if err != nil {
		return usageError(e, runner, true, err)
	}
	cfg.GitHubToken = token
	return execute(ctx, e, cfg, runner, true)
}

// actionConfig maps action inputs onto a config with the action's defaults:
// the workflow's own repository as source and signer repository, and an
// evidence folder in the workspace.
func actionConfig(runner *ghaction.Runner, getenv func(string) string) (config.Config, error) {
	var cfg config.Config
	var one config.Artifact
	if p := runner.Input("config"); p != "" {
		var err error
		if cfg, err = loadConfigFile(p, &one); err != nil {
			return cfg, err
		}
		cfg.ConfigFile = p
	}
	for _, o := range verifyOptions {
		v := runner.Input(o.name)
		if v == "" {
			continue
		}
		if err := o.set(&cfg, &one, v); err != nil {
			return cfg, err
		}
	}
	if one.Path != "" || one.URL != "" || one.Name != "" {
		cfg.Artifacts = append(cfg.Artifacts, one)
	}
	server, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY")
	if cfg.ServerURL == "" && server != "" {
		cfg.ServerURL = server
	}
	if cfg.GitHubAPIURL == "" {
		cfg.GitHubAPIURL = getenv("GITHUB_API_URL")
	}
	if cfg.Repo == "" && server != "" && repo != "" {
		cfg.Repo = server + "/" + repo + ".git"
	}
	if _, _, named := config.SplitSignerWorkflow(cfg.SignerWorkflow); cfg.SignerWorkflow != "" && cfg.SignerRepo == "" && !named {
		// The workflow that signed is the source repository's own release
		// workflow: default to the repository being verified, and to the
		// workflow's repository only when that is where the source is.
		if r := pipeline.GitHubRepoOf(cfg.Repo, firstNonEmpty(cfg.ServerURL, wellknown.GitHubServerURL)); r != "" {
			cfg.SignerRepo = r
		} else {
			cfg.SignerRepo = repo
		}
	}
	if cfg.EvidenceDir == "" {
		cfg.EvidenceDir = ActionEvidenceDir
	}
	if cfg.Report == "" {
		cfg.Report = path.Join(cfg.EvidenceDir, ActionReportName)
	}
	return cfg, nil
}
