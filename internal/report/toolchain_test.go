package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/toolchain"
)

// A build in a pinned image: the summary says the image provides the
// toolchain (a note, not a warning), with hostile text escaped.
func TestToolchainNotesRendered(t *testing.T) {
	t.Parallel()
	r := failedReport()
	r.Toolchain = &toolchain.Result{Image: "node@sha256:ab", Notes: []string{"the build runs in a container from node@sha256:ab", "the release declares node " + hostile}}
	var md, txt bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "text": txt.String()} {
		if !strings.Contains(out, "Toolchain:** the build runs in a container from node") && !strings.Contains(out, "Toolchain: the build runs in a container from node@sha256:ab") {
			t.Errorf("%s lacks the note:\n%s", name, out)
		}
		if strings.Contains(out, "⚠️ **Toolchain:** the build runs") || strings.Contains(out, "⚠️  Toolchain: the build runs") {
			t.Errorf("%s shows the note as a warning", name)
		}
	}
	if strings.Contains(md.String(), hostile) {
		t.Errorf("markdown carries the hostile text unescaped")
	}
}
