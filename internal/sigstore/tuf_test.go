package sigstore_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/testkit/tufkit"
)

func TestLoadTrustedRootFromLocalTUF(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	trJSON, err := w.kit.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	url, rootJSON, hits := tufkit.Server(t, trJSON)
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
