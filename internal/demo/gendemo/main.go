// Command gendemo regenerates the demo's published files and Sigstore
// material under testdata/demo from the demo app, offline:
//
//	go run ./internal/demo/gendemo
//
// It builds the tagged demo repository exactly as the verifier will (same
// fixed commit, same build command and environment), writes the published
// artifact and the page that loads it with SRI to testdata/demo/cdn, and signs
// the artifact with a fresh in-repo Sigstore (internal/testkit/sigstorekit):
// a DSSE SLSA provenance bundle for lukium/kms-demo's release workflow at the
// demo commit, as actions/attest-build-provenance would make, and the matching
// trusted_root.json. Run it from the repository root.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/demo"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "gendemo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	fsys := os.DirFS(".")
	work, err := os.MkdirTemp("", "gendemo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo := filepath.Join(work, "kms-demo")
	commit, err := demo.CreateRepo(ctx, fsys, repo)
	if err != nil {
		return err
	}
	home := filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	env, err := build.Env(os.LookupEnv, nil, home, demo.Tag, commit, demo.CommitDate.Unix())
	if err != nil {
		return err
	}
	if _, err := build.Run(ctx, build.Options{Dir: repo, Command: demo.BuildCommand, Env: env, Log: os.Stderr}); err != nil {
		return err
	}
	built, err := build.FindArtifact(repo, demo.ArtifactGlob)
	if err != nil {
		return err
	}
	artifact, err := io.ReadAll(io.LimitReader(built.File, 1<<20))
	built.File.Close()
	if err != nil {
		return err
	}
	name := path.Base(built.Rel)
	sum, err := digest.Reader(strings.NewReader(string(artifact)), 1<<20)
	if err != nil {
		return err
	}

	cdn := filepath.Join(demo.Root, "cdn")
	old, _ := filepath.Glob(filepath.Join(cdn, "kms-enclave.*.js"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cdn, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cdn, name), artifact, 0o644); err != nil {
		return err
	}
	page := fmt.Sprintf(`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>KMS demo enclave</title>
  <!-- The browser refuses to run the enclave unless its bytes match this hash. -->
  <script type="module" integrity="%s" crossorigin="anonymous" src="/%s"></script>
</head>
<body></body>
</html>
`, sum.SRI("sha384"), name)
	if err := os.WriteFile(filepath.Join(cdn, demo.PageName), []byte(page), 0o644); err != nil {
		return err
	}

	ca, err := sigstorekit.New()
	if err != nil {
		return err
	}
	id := sigstorekit.GitHubIdentity(demo.SignerRepo, demo.SignerWorkflow, demo.Tag, commit)
	h := sha256.Sum256(artifact)
	bundle, err := ca.SignDSSE(
		[]sigstorekit.Subject{{Name: name, SHA256Hex: hex.EncodeToString(h[:])}},
		wellknown.SLSAProvenanceV1,
		sigstorekit.SLSAProvenance(demo.SignerRepo, demo.SignerWorkflow, demo.Tag, commit),
		id,
	)
	if err != nil {
		return err
	}
	root, err := ca.TrustedRootJSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(demo.BundleFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(demo.BundleFile, append(bundle, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(demo.TrustedRoot, append(root, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("demo commit %s, artifact %s (sha256 %s)\n", commit, name, sum.SHA256Hex())
	return nil
}
