package cli_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
)

// tufServer serves a minimal signed TUF repository whose only target is
// trustedRoot; it returns its URL, its root.json and a request counter.
func tufServer(t *testing.T, trustedRoot []byte) (string, []byte, *atomic.Int32) {
	t.Helper()
	exp := time.Now().AddDate(1, 0, 0)
	root, targets := metadata.Root(exp), metadata.Targets(exp)
	snapshot, timestamp := metadata.Snapshot(exp), metadata.Timestamp(exp)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	signers := map[string]signature.Signer{}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Signed.AddKey(k, role); err != nil {
			t.Fatal(err)
		}
		if signers[role], err = signature.LoadSigner(priv, crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{}
	add := func(name, role string, sign func(signature.Signer) error, bytes func() ([]byte, error)) {
		if err := sign(signers[role]); err != nil {
			t.Fatal(err)
		}
		b, err := bytes()
		if err != nil {
			t.Fatal(err)
		}
		files["/"+name] = b
	}
	add("1.root.json", "root", func(s signature.Signer) error { _, err := root.Sign(s); return err }, func() ([]byte, error) { return root.ToBytes(false) })
	add("1.targets.json", "targets", func(s signature.Signer) error { _, err := targets.Sign(s); return err }, func() ([]byte, error) { return targets.ToBytes(false) })
	add("1.snapshot.json", "snapshot", func(s signature.Signer) error { _, err := snapshot.Sign(s); return err }, func() ([]byte, error) { return snapshot.ToBytes(false) })
	add("timestamp.json", "timestamp", func(s signature.Signer) error { _, err := timestamp.Sign(s); return err }, func() ([]byte, error) { return timestamp.ToBytes(false) })
	sum := sha256.Sum256(trustedRoot)
	files["/targets/"+hex.EncodeToString(sum[:])+".trusted_root.json"] = trustedRoot
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, files["/1.root.json"], &hits
}

// The trusted root loaded through TUF beside the build verifies the
// signature exactly as one loaded after it; a wrong signer still fails.
func TestTrustedRootFromTUFLoadedBesideTheBuild(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	tr, err := os.ReadFile(w.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	url, rootJSON, hits := tufServer(t, tr)
	rootFile := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(rootFile, rootJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	tufArgs := func(args []string) []string {
		for i, a := range args {
			if a == "--trusted-root" {
				args = append(args[:i:i], args[i+2:]...)
				break
			}
		}
		return append(args, "--tuf-url", url, "--tuf-root", rootFile)
	}
	c := newCDN(t, serve(artifact))
	res := run(t, runOpts{}, tufArgs(verifyArgs(w, c, sign(t, w, artifact, goodID(w))))...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if hits.Load() == 0 {
		t.Fatal("the TUF repository was never asked")
	}
	if !strings.Contains(res.stdout+res.stderr, "loaded while the build ran") {
		t.Errorf("the trusted root was not loaded beside the build:\n%s", res.stdout)
	}
	c2 := newCDN(t, serve(artifact))
	bad := sigstorekit.GitHubIdentity(signerRepo, ".github/workflows/other.yml", tag, w.commit)
	res = run(t, runOpts{}, tufArgs(verifyArgs(w, c2, sign(t, w, artifact, bad)))...)
	if res.code == cli.ExitVerified {
		t.Fatalf("another workflow's signature passed\n%s", res.stdout)
	}
}
