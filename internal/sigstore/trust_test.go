package sigstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestLoadTrustedRootFile(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good, err := w.kit.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodPath := write("good.json", good)
	cases := []struct {
		name string
		path string
		ok   bool
	}{
		{"kit root", goodPath, true},
		{"missing", filepath.Join(dir, "nope.json"), false},
		{"not json", write("junk.json", []byte("{{{")), false},
		{"wrong shape", write("shape.json", []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"publicKey":{"rawBytes":"AAAA"}}]}`)), false},
		{"too large", write("big.json", make([]byte, sigstore.MaxTrustedRootSize+1)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tm, err := sigstore.LoadTrustedRoot(context.Background(), sigstore.TrustOptions{File: tc.path, TUFURL: "http://127.0.0.1:1"})
			if tc.ok {
				if err != nil || tm == nil || len(tm.RekorLogs()) == 0 {
					t.Fatalf("LoadTrustedRoot = %v, %v", tm, err)
				}
				return
			}
			if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "trusted-root-invalid" {
				t.Fatalf("err = %v, want usage/trusted-root-invalid", err)
			}
		})
	}
}

func TestLoadTrustedRootTUF(t *testing.T) {
	t.Parallel()
	blackHole := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(blackHole.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{not tuf"))
	}))
	t.Cleanup(garbage.Close)

	cases := []struct {
		name string
		o    sigstore.TrustOptions
	}{
		{"black-holed endpoint, short timeout", sigstore.TrustOptions{TUFURL: blackHole.URL, Timeout: 300 * time.Millisecond}},
		{"black-holed endpoint, client without timeout", sigstore.TrustOptions{TUFURL: blackHole.URL, Timeout: 300 * time.Millisecond, HTTPClient: &http.Client{}}},
		{"404 everywhere", sigstore.TrustOptions{TUFURL: notFound.URL, CacheDir: t.TempDir()}},
		{"garbage metadata", sigstore.TrustOptions{TUFURL: garbage.URL}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() {
				_, err := sigstore.LoadTrustedRoot(context.Background(), tc.o)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "trusted-root-unavailable" {
					t.Fatalf("err = %v, want inconclusive/trusted-root-unavailable", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("LoadTrustedRoot did not return within its bound")
			}
		})
	}
	t.Run("cancelled parent context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := sigstore.LoadTrustedRoot(ctx, sigstore.TrustOptions{TUFURL: blackHole.URL})
		if !errors.Is(err, verdict.ErrInconclusive) {
			t.Fatalf("err = %v", err)
		}
	})
}
