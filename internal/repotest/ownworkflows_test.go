package repotest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// TestOwnWorkflowsPassActionlint lints this repository's own workflows
// (.github/workflows), as the examples are linted: actionlint's own checks,
// with shellcheck when it is installed.
func TestOwnWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	var files []string
	for _, ext := range []string{"*.yml", "*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", ext))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no workflows in .github/workflows")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
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

// TestReleaseWorkflowPinsTheImage checks the release procedure: the
// development branch runs the Dockerfile, and the release job rewrites
// exactly that line to the pushed image's digest.
func TestReleaseWorkflowPinsTheImage(t *testing.T) {
	t.Parallel()
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(action), "\n  image: Dockerfile\n") {
		t.Fatal("action.yml on the development branch must say `image: Dockerfile` (the release rewrites that line)")
	}
	rel, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`s|^  image: Dockerfile$|  image: docker://$IMAGE@$DIGEST|`, "attest-build-provenance", "SOURCE_DATE_EPOCH", "VERSION=$VERSION", "COMMIT=$COMMIT", "rewrite-timestamp=true"} {
		if !strings.Contains(string(rel), want) {
			t.Errorf("release.yml lacks %q", want)
		}
	}
}
