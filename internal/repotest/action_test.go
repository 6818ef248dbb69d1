package repotest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionFile is the part of action.yml the tests read.
type actionFile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Required    any    `yaml:"required"`
		Default     any    `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using      string   `yaml:"using"`
		Image      string   `yaml:"image"`
		Entrypoint string   `yaml:"entrypoint"`
		Args       []string `yaml:"args"`
	} `yaml:"runs"`
}

// loadAction reads action.yml; ok is false when it does not exist yet.
func loadAction(t *testing.T) (actionFile, bool) {
	t.Helper()
	var a actionFile
	content, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if errors.Is(err, fs.ErrNotExist) {
		return a, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(content, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a, true
}

func TestActionMetadata(t *testing.T) {
	t.Parallel()
	a, ok := loadAction(t)
	if !ok {
		t.Skip("action.yml does not exist yet (the lead writes it)")
	}
	if a.Name == "" || a.Description == "" {
		t.Errorf("action.yml needs a name and a description")
	}
	if a.Runs.Using != "docker" {
		t.Errorf("runs.using = %q, want docker", a.Runs.Using)
	}
	if a.Runs.Image != "Dockerfile" {
		t.Errorf("runs.image = %q, want Dockerfile (built from this repository)", a.Runs.Image)
	}
	if a.Runs.Entrypoint != "" || len(a.Runs.Args) != 0 {
		t.Errorf("runs overrides entrypoint/args (%q %q); the image ENTRYPOINT reads inputs from INPUT_* variables", a.Runs.Entrypoint, a.Runs.Args)
	}
	if len(a.Inputs) == 0 {
		t.Fatal("action.yml declares no inputs")
	}
	for name, in := range a.Inputs {
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %q has no description", name)
		}
		if name != strings.ToLower(name) || strings.ContainsAny(name, " _") {
			t.Errorf("input %q: use lower-case kebab-case names", name)
		}
	}
	for name, out := range a.Outputs {
		if strings.TrimSpace(out.Description) == "" {
			t.Errorf("output %q has no description", name)
		}
	}
}
