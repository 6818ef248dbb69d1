package toolchain_test

import (
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/toolchain"
)

func TestFromImage(t *testing.T) {
	t.Parallel()
	img := "node:20.11.1-bookworm@sha256:" + strings.Repeat("a", 64)
	res := toolchain.FromImage(reader(map[string]string{".nvmrc": "20.11.1\n"}), "", img)
	if res.Image != img || res.Node != nil || len(res.PathDirs) != 0 || len(res.Env) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("%+v", res)
	}
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, img) || !strings.Contains(notes, "installs none") || !strings.Contains(notes, "declares node 20.11.1 (.nvmrc)") {
		t.Errorf("notes %q", notes)
	}
	res = toolchain.FromImage(reader(nil), "", img)
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, "declares no Node version") {
		t.Errorf("nothing declared: %q", notes)
	}
	res = toolchain.FromImage(reader(map[string]string{"package.json": "{not json"}), "", img)
	if len(res.Warnings) != 1 || res.Node != nil {
		t.Errorf("unreadable declaration: %+v", res)
	}
}
