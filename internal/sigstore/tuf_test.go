package sigstore_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/lukium/kms-verify-action/internal/sigstore"
)

// tufRepo serves a minimal signed TUF repository (consistent snapshots)
// whose only target is trustedRoot, and returns its URL and root.json.
func tufRepo(t *testing.T, trustedRoot []byte) (string, []byte, *atomic.Int32) {
	t.Helper()
	exp := time.Now().AddDate(1, 0, 0)
	root := metadata.Root(exp)
	targets := metadata.Targets(exp)
	snapshot := metadata.Snapshot(exp)
	timestamp := metadata.Timestamp(exp)
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
	sign := func(name string, sign func(signature.Signer) error, bytes func() ([]byte, error), role string) {
		if err := sign(signers[role]); err != nil {
			t.Fatal(err)
		}
		b, err := bytes()
		if err != nil {
			t.Fatal(err)
		}
		files["/"+name] = b
	}
	sign("1.root.json", func(s signature.Signer) error { _, err := root.Sign(s); return err }, func() ([]byte, error) { return root.ToBytes(false) }, "root")
	sign("1.targets.json", func(s signature.Signer) error { _, err := targets.Sign(s); return err }, func() ([]byte, error) { return targets.ToBytes(false) }, "targets")
	sign("1.snapshot.json", func(s signature.Signer) error { _, err := snapshot.Sign(s); return err }, func() ([]byte, error) { return snapshot.ToBytes(false) }, "snapshot")
	sign("timestamp.json", func(s signature.Signer) error { _, err := timestamp.Sign(s); return err }, func() ([]byte, error) { return timestamp.ToBytes(false) }, "timestamp")
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

func TestLoadTrustedRootFromLocalTUF(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	trJSON, err := w.kit.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	url, rootJSON, hits := tufRepo(t, trJSON)
	for _, cache := range []string{"", t.TempDir()} {
		tm, err := sigstore.LoadTrustedRoot(context.Background(), sigstore.TrustOptions{
			TUFURL: url, TUFRoot: rootJSON, CacheDir: cache, HTTPClient: &http.Client{Timeout: 10 * time.Second}, Timeout: 20 * time.Second,
		})
		if err != nil {
			t.Fatalf("cache %q: LoadTrustedRoot: %v", cache, err)
		}
		// The root fetched through TUF verifies the kit's bundles.
		b := must(t)(w.kit.SignArtifact(artifact, ghID()))
		if _, err := sigstore.Verify(context.Background(), tm, []sigstore.Candidate{{Name: "tuf", JSON: b}}, artifactSum[:], ghPolicy()); err != nil {
			t.Fatalf("cache %q: Verify with TUF root: %v", cache, err)
		}
	}
	if hits.Load() == 0 {
		t.Fatal("the TUF server was never asked")
	}
}
