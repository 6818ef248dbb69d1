package repotest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

// ownAction is this repository's action; the examples reference it by its
// release tag (the test suggests pinning it once released, in a comment).
const ownAction = "lukium/kms-verify-action"

var (
	fullSHA        = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionComment = regexp.MustCompile(`^#\s*v\d+(\.\d+){0,2}\b`)
)

func exampleWorkflows(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "workflows-examples", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml2, _ := filepath.Glob(filepath.Join(root, "workflows-examples", "*.yaml"))
	files = append(files, yaml2...)
	if len(files) == 0 {
		t.Fatal("no workflows in workflows-examples/")
	}
	return files
}

// lintedWorkflows is every workflow actionlint checks: the examples and
// this repository's own CI.
func lintedWorkflows(t *testing.T) []string {
	t.Helper()
	files := exampleWorkflows(t)
	own, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if len(own) == 0 {
		t.Fatal("no workflows in .github/workflows/")
	}
	return append(files, own...)
}

func TestExampleWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	// shellcheck checks the run: scripts where it is installed (CI installs
	// it); the test does not require it. pyflakes stays off.
	shellcheck, _ := exec.LookPath("shellcheck")
	if shellcheck == "" {
		t.Log("shellcheck not installed: run: scripts are not shellchecked")
	}
	for _, path := range lintedWorkflows(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{Shellcheck: shellcheck})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := l.Lint(path, content, nil)
			if err != nil {
				t.Fatalf("actionlint: %v", err)
			}
			for _, e := range errs {
				t.Errorf("%s:%d:%d: %s [%s]", filepath.Base(path), e.Line, e.Column, e.Message, e.Kind)
			}
		})
	}
}

// TestOwnCIRunsTheChecksAndTheAction: .github/workflows/ci.yml runs .ci/run
// and the action itself (uses: ./) on the demo.
func TestOwnCIRunsTheChecksAndTheAction(t *testing.T) {
	t.Parallel()
	w := loadWorkflow(t, filepath.Join(root, ".github", "workflows", "ci.yml"))
	var runsCI, usesSelf bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run.Value, ".ci/run") {
				runsCI = true
			}
			if s.Uses.Value == "./" && s.With["mode"].Value == "demo" {
				usesSelf = true
			}
			checkUses(t, "ci.yml", s.Uses)
		}
	}
	if !runsCI || !usesSelf {
		t.Errorf("ci.yml runs .ci/run: %v; runs uses: ./ with mode: demo: %v", runsCI, usesSelf)
	}
}

// workflow is the part of a workflow file the policy checks read, kept as
// yaml.Node where comments or positions matter.
type workflow struct {
	On          yaml.Node       `yaml:"on"`
	Permissions yaml.Node       `yaml:"permissions"`
	Concurrency yaml.Node       `yaml:"concurrency"`
	Jobs        map[string]*job `yaml:"jobs"`
}

type job struct {
	Permissions    yaml.Node `yaml:"permissions"`
	Uses           yaml.Node `yaml:"uses"`
	TimeoutMinutes yaml.Node `yaml:"timeout-minutes"`
	Steps          []step    `yaml:"steps"`
}

type step struct {
	Name string               `yaml:"name"`
	Uses yaml.Node            `yaml:"uses"`
	Run  yaml.Node            `yaml:"run"`
	With map[string]yaml.Node `yaml:"with"`
	Env  map[string]yaml.Node `yaml:"env"`
}

func loadWorkflow(t *testing.T, path string) workflow {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(content, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(w.Jobs) == 0 {
		t.Fatalf("%s: no jobs", path)
	}
	return w
}

// checkUses enforces the pinning policy on one `uses:` value.
func checkUses(t *testing.T, file string, n yaml.Node) {
	t.Helper()
	if n.Kind == 0 {
		return
	}
	uses := n.Value
	if strings.HasPrefix(uses, "./") || strings.HasPrefix(uses, "docker://") {
		if strings.HasPrefix(uses, "docker://") && !strings.Contains(uses, "@sha256:") {
			t.Errorf("%s:%d: %s: docker image is not pinned by digest", file, n.Line, uses)
		}
		return
	}
	name, ref, ok := strings.Cut(uses, "@")
	if !ok {
		t.Errorf("%s:%d: %s has no @ref", file, n.Line, uses)
		return
	}
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		t.Errorf("%s:%d: %s is not OWNER/REPO", file, n.Line, uses)
		return
	}
	if parts[0]+"/"+parts[1] == ownAction {
		return
	}
	if !fullSHA.MatchString(ref) {
		t.Errorf("%s:%d: third-party action %s is not pinned to a full 40-hex commit SHA", file, n.Line, uses)
	}
	if !versionComment.MatchString(n.LineComment) {
		t.Errorf("%s:%d: %s lacks a version comment such as '# v4.2.2' (got %q)", file, n.Line, uses, n.LineComment)
	}
}

func TestExampleWorkflowPolicy(t *testing.T) {
	t.Parallel()
	for _, path := range exampleWorkflows(t) {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			w := loadWorkflow(t, path)
			if w.Permissions.Kind != yaml.MappingNode {
				t.Errorf("%s: top-level permissions must be declared as a mapping (least privilege)", file)
			}
			if w.Concurrency.Kind == 0 {
				t.Errorf("%s: no concurrency group", file)
			}
			for name, j := range w.Jobs {
				if j.Permissions.Kind == yaml.ScalarNode {
					t.Errorf("%s: job %s: permissions %q; declare each scope", file, name, j.Permissions.Value)
				}
				if j.TimeoutMinutes.Kind == 0 && j.Uses.Kind == 0 {
					t.Errorf("%s: job %s has no timeout-minutes", file, name)
				}
				checkUses(t, file, j.Uses)
				for _, s := range j.Steps {
					checkUses(t, file, s.Uses)
					// Data reaches scripts through env:, never by expression
					// expansion inside the script text.
					if strings.Contains(s.Run.Value, "${{") {
						t.Errorf("%s:%d: step %q expands ${{ }} inside run:; pass the value through env:", file, s.Run.Line, s.Name)
					}
				}
			}
		})
	}
}

// permissionsOf returns the top-level permissions as scope -> level.
func permissionsOf(t *testing.T, w workflow) map[string]string {
	t.Helper()
	var m map[string]string
	if err := w.Permissions.Decode(&m); err != nil {
		t.Fatalf("permissions: %v", err)
	}
	return m
}

func TestExamplePermissionsAreMinimal(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(root, "workflows-examples")
	tests := []struct {
		file string
		want map[string]string
	}{
		{"kms-verify.yml", map[string]string{"contents": "read", "attestations": "read"}},
		{"random-cadence.yml", map[string]string{"actions": "write", "issues": "write", "contents": "write"}},
		{"release.yml", map[string]string{"contents": "read"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			w := loadWorkflow(t, filepath.Join(dir, tt.file))
			got := permissionsOf(t, w)
			if len(got) != len(tt.want) {
				t.Errorf("permissions = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("permissions[%s] = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}

	// Only the release job may write, and only what signing and publishing need.
	w := loadWorkflow(t, filepath.Join(dir, "release.yml"))
	for name, j := range w.Jobs {
		var m map[string]string
		if err := j.Permissions.Decode(&m); err != nil {
			t.Fatalf("release.yml job %s permissions: %v", name, err)
		}
		want := map[string]string{"contents": "write", "id-token": "write", "attestations": "write"}
		if len(m) != len(want) {
			t.Errorf("release.yml job %s permissions = %v, want %v", name, m, want)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("release.yml job %s permissions[%s] = %q, want %q", name, k, m[k], v)
			}
		}
	}
}

// TestExamplesUseDeclaredInputs checks every `with:` key given to this
// repository's action against the inputs action.yml declares; actionlint
// cannot, since it does not fetch remote actions.
func TestExamplesUseDeclaredInputs(t *testing.T) {
	t.Parallel()
	a, ok := loadAction(t)
	if !ok {
		t.Skip("action.yml does not exist yet (the lead writes it)")
	}
	used := 0
	for _, path := range exampleWorkflows(t) {
		w := loadWorkflow(t, path)
		for _, j := range w.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses.Value, ownAction+"@") {
					continue
				}
				used++
				for k := range s.With {
					if _, ok := a.Inputs[k]; !ok {
						t.Errorf("%s: step %q passes %q, which action.yml does not declare", filepath.Base(path), s.Name, k)
					}
				}
			}
		}
	}
	if used < 2 {
		t.Errorf("the examples use %s in %d steps, want at least 2 (verify and dispatch)", ownAction, used)
	}
}

func TestExampleVerifierRequirements(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(root, "workflows-examples")
	w := loadWorkflow(t, filepath.Join(dir, "kms-verify.yml"))
	var on map[string]yaml.Node
	if err := w.On.Decode(&on); err != nil {
		t.Fatalf("on: %v", err)
	}
	for _, ev := range []string{"workflow_dispatch", "schedule"} {
		if _, ok := on[ev]; !ok {
			t.Errorf("kms-verify.yml is not triggered by %s", ev)
		}
	}
	var verify *step
	uploads := false
	for _, j := range w.Jobs {
		for i := range j.Steps {
			s := &j.Steps[i]
			if strings.HasPrefix(s.Uses.Value, ownAction+"@") {
				verify = s
			}
			if strings.HasPrefix(s.Uses.Value, "actions/upload-artifact@") {
				uploads = true
			}
		}
	}
	if verify == nil {
		t.Fatal("kms-verify.yml does not use the action")
	}
	want := map[string]string{
		"bundle":              "github-attestations",
		"signer-workflow":     ".github/workflows/release.yml",
		"require-attestation": "true",
	}
	for k, v := range want {
		if got := verify.With[k].Value; got != v {
			t.Errorf("kms-verify.yml with.%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"tag", "build-command", "artifact", "url", "page-url"} {
		if verify.With[k].Value == "" {
			t.Errorf("kms-verify.yml does not set with.%s", k)
		}
	}
	if !uploads {
		t.Errorf("kms-verify.yml does not upload the evidence folder")
	}

	rc := loadWorkflow(t, filepath.Join(dir, "random-cadence.yml"))
	var rcOn map[string]yaml.Node
	if err := rc.On.Decode(&rcOn); err != nil {
		t.Fatal(err)
	}
	var sched []struct {
		Cron string `yaml:"cron"`
	}
	if n, ok := rcOn["schedule"]; !ok {
		t.Error("random-cadence.yml has no schedule")
	} else if err := n.Decode(&sched); err != nil || len(sched) != 1 || !regexp.MustCompile(`^\d{1,2} \*/2 \* \* \*$`).MatchString(sched[0].Cron) {
		t.Errorf("random-cadence.yml schedule = %+v, want one cron every 2 hours (tick: 2h)", sched)
	}
	found := false
	for _, j := range rc.Jobs {
		for _, s := range j.Steps {
			if !strings.HasPrefix(s.Uses.Value, ownAction+"@") {
				continue
			}
			found = true
			// The settings the simulation test in internal/dispatch checks.
			for k, v := range map[string]string{"mode": "dispatch", "workflow": "kms-verify.yml", "tick": "2h", "target-per-day": "3",
				"max-gap": "24h", "max-jitter": "0", "delay-environments": "kms-verify-wait-", "max-delay": "2h"} {
				if got := s.With[k].Value; got != v {
					t.Errorf("random-cadence.yml with.%s = %q, want %q", k, got, v)
				}
			}
		}
	}
	if !found {
		t.Error("random-cadence.yml does not use the action")
	}

	rel := loadWorkflow(t, filepath.Join(dir, "release.yml"))
	var usesAttest, sets bool
	for _, j := range rel.Jobs {
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses.Value, "actions/attest-build-provenance@") {
				usesAttest = true
			}
			if strings.Contains(s.Run.Value, "SOURCE_DATE_EPOCH=") {
				sets = true
			}
		}
	}
	if !usesAttest || !sets {
		t.Errorf("release.yml: attest-build-provenance used = %v, SOURCE_DATE_EPOCH set = %v; want both", usesAttest, sets)
	}
}
