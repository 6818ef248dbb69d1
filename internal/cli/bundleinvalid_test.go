package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
)

// TestUnreadableBundleIsCouldNotVerify: a bundle that cannot be parsed, or
// is structurally invalid, proves nothing: exit 2 bundle-invalid, never the
// exit 1 of tampering, whether it is a local file or what a bundle URL
// serves.
func TestUnreadableBundleIsCouldNotVerify(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Path == "/bundle.json" {
			rw.Header().Set("Content-Type", "text/html")
			_, _ = rw.Write([]byte("<!doctype html><html><body><h1>Welcome</h1></body></html>"))
			return
		}
		serve(artifact)(rw, r, 0)
	})
	file := func(data string) string {
		p := filepath.Join(t.TempDir(), "bundle.json")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, bundle := range map[string]string{
		"local file, not JSON":     file("this is not json"),
		"local file, {}":           file("{}"),
		"local file, nested array": file(strings.Repeat("[", 3<<20) + strings.Repeat("]", 3<<20)),
		"bundle URL serving HTML":  c.URL + "/bundle.json",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := run(t, runOpts{}, verifyArgs(w, c, bundle)...)
			if res.code != cli.ExitInconclusive || res.rep == nil || res.rep.Reason != "bundle-invalid" {
				reason := ""
				if res.rep != nil {
					reason = res.rep.Reason
				}
				t.Fatalf("exit %d reason %q, want 2 bundle-invalid\n%s%s", res.code, reason, res.stdout, res.stderr)
			}
		})
	}
}
