package cli_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// The first pass hashes SHA-256 and SHA-384 only; a page that pins the
// artifact with sha512 makes the verifier hash it again with SHA-512, from
// the evidence copy or from the build output, and the pin is checked for
// real: the right pin verifies, a wrong one fails.
func TestPageWithSHA512Pin(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good, err := digest.Reader(bytes.NewReader(artifact), 1<<20, digest.WithSHA512())
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := digest.Reader(bytes.NewReader([]byte("other")), 1<<20, digest.WithSHA512())
	for _, tc := range []struct {
		name     string
		pin      string
		evidence bool
		code     int
	}{
		{"right pin, evidence copy", good.SRI("sha512"), true, cli.ExitVerified},
		{"right pin, build output", good.SRI("sha512"), false, cli.ExitVerified},
		{"sha384 and sha512, sha512 wins", good.SRI("sha384") + " " + good.SRI("sha512"), false, cli.ExitVerified},
		{"wrong sha512 pin", good.SRI("sha384") + " " + bad.SRI("sha512"), false, cli.ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/kms.html" {
					fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" src="/%s"></script>`, tc.pin, artifactName)
					return
				}
				_, _ = rw.Write(artifact)
			}))
			defer srv.Close()
			c := &cdn{Server: srv}
			extra := []string{}
			if tc.evidence {
				extra = append(extra, "--evidence-dir", filepath.Join(t.TempDir(), "ev"))
			}
			res := run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), extra...)...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", res.code, tc.code, res.stdout)
			}
			if tc.code == cli.ExitFailed {
				if ck, _ := res.check("page-integrity"); ck.Status != verdict.StatusFail || ck.Reason != "sri-mismatch" {
					t.Fatalf("page check %+v", ck)
				}
			}
		})
	}
}
