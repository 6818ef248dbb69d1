package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileTakesEveryFlagName: the README says the YAML keys are the
// flag names; every flag name is accepted, build-env as a string or a list.
func TestConfigFileTakesEveryFlagName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "kms-verify.yml")
	yml := `repo: https://github.com/acme/kms.git
tag: v1.0.1
build-command: make
build-env: NPM_CONFIG_USERCONFIG, CI
artifact: dist/kms-*.mjs
name: enclave
url: https://kms.example.com/kms.mjs
skip-page-check: true
allow-unsigned: true
report: out/report.json
summary: out/summary.txt
evidence-dir: out/evidence
verbose: true
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := parseVerify([]string{"--config", path}, io.Discard, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Artifacts) != 1 || cfg.Artifacts[0].Path != "dist/kms-*.mjs" || cfg.Artifacts[0].Name != "enclave" || cfg.Artifacts[0].URL != "https://kms.example.com/kms.mjs" {
		t.Errorf("artifact = %+v", cfg.Artifacts)
	}
	if cfg.Report != "out/report.json" || cfg.Summary != "out/summary.txt" || cfg.EvidenceDir != "out/evidence" || !cfg.Verbose {
		t.Errorf("outputs = %q %q %q %v", cfg.Report, cfg.Summary, cfg.EvidenceDir, cfg.Verbose)
	}
	if strings.Join(cfg.BuildEnv, ",") != "NPM_CONFIG_USERCONFIG,CI" {
		t.Errorf("build-env = %q", cfg.BuildEnv)
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Errorf("the file's configuration is invalid: %v", err)
	}
	// A flag on the command line still wins over the file.
	cfg, _, err = parseVerify([]string{"--config", path, "--url", "https://kms.example.com/other.mjs"}, io.Discard, func(string) string { return "" })
	if err != nil || cfg.Artifacts[0].URL != "https://kms.example.com/other.mjs" {
		t.Errorf("flag over file: %+v %v", cfg.Artifacts, err)
	}
	for name, bad := range map[string]string{
		"unknown key":        "repo: x\nrepoo: y\n",
		"mapping for a flag": "repo: x\nurl: {a: b}\n",
		"bad build-env":      "repo: x\nbuild-env: {a: b}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := parseVerify([]string{"--config", p}, io.Discard, func(string) string { return "" }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// build-env as a YAML list.
	p := filepath.Join(dir, "list.yml")
	if err := os.WriteFile(p, []byte("repo: x\nbuild-env:\n  - A\n  - B\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err := parseVerify([]string{"--config", p}, io.Discard, func(string) string { return "" }); err != nil || strings.Join(cfg.BuildEnv, ",") != "A,B" {
		t.Errorf("build-env list = %q, %v", cfg.BuildEnv, err)
	}
}
