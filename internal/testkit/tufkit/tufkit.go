// Package tufkit serves a signed TUF repository on loopback for tests of
// the Sigstore trusted root's loading (sigstore-go's TUF client).
package tufkit

import (
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
)

// Server serves a minimal signed TUF repository (consistent snapshots,
// fresh ed25519 keys for every role) whose only target is trustedRoot
// ("trusted_root.json", as Sigstore's TUF client asks for it). It returns
// the repository URL, its initial root.json and a count of the requests it
// served; the server closes when the test ends.
func Server(t *testing.T, trustedRoot []byte) (string, []byte, *atomic.Int32) {
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
