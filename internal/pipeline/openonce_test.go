package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/report"
)

// TestRebuiltArtifactIsReadOnce: once FindArtifact has opened the built
// file, swapping its path for a link to a secret changes nothing: the hash
// and the evidence copy come from the descriptor. (The verifier used to open
// the path a second time, and a build's leftover process won that race.)
func TestRebuiltArtifactIsReadOnce(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	if err := os.MkdirAll(filepath.Join(src, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	built := filepath.Join(src, "dist", "app.js")
	if err := os.WriteFile(built, []byte("the built bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("GITHUB_TOKEN=ghs_secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ev, err := report.NewEvidence(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: config.Config{}.WithDefaults(), work: work, evidence: ev}
	a, err := build.FindArtifact(src, "dist/*.js")
	if err != nil {
		t.Fatal(err)
	}
	defer a.File.Close()
	st := &artifactState{cfg: config.Artifact{Name: "app.js"}, rel: a.Rel, file: a.File}

	// The build's leftover process swaps the file for a link.
	if err := os.Remove(built); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, built); err != nil {
		t.Fatal(err)
	}
	sum, err := r.hashRebuilt(st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Size != int64(len("the built bytes")) {
		t.Errorf("hashed %d bytes, want the built file's %d", sum.Size, len("the built bytes"))
	}
	got, err := os.ReadFile(filepath.Join(ev.Dir, "rebuilt-app.js"))
	if err != nil || string(got) != "the built bytes" {
		t.Errorf("evidence copy = %q, %v; want the built bytes", got, err)
	}
	st.rebuilt = &sum
	if err := r.withSHA512(st); err != nil {
		t.Errorf("withSHA512 after the swap: %v", err)
	}
}
