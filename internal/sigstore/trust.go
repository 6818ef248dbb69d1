// Package sigstore verifies Sigstore bundles against the signer a release is
// expected to come from: it loads the trusted root (from a file or through
// TUF), holds the identity policy (exact SAN and issuer, GitHub Actions
// certificate extensions, managed keys), checks DSSE in-toto statements and
// SLSA v1 provenance, and explains every decision as verdict checks.
//
// Cryptographic decisions are made by sigstore-go's verifier with the
// strictest options it offers; this package adds its own field-by-field
// comparison on top so that a mismatch names the field, the expected value
// and the actual one.
package sigstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds for trust-root loading.
const (
	// MaxTrustedRootSize bounds a trusted_root.json read from disk.
	MaxTrustedRootSize = 10 << 20
	// DefaultTUFTimeout bounds the whole TUF update when TrustOptions.Timeout is zero.
	DefaultTUFTimeout = 60 * time.Second
)

// TrustOptions says where the Sigstore trusted root comes from.
type TrustOptions struct {
	// File is a trusted_root.json; when set, no network is used.
	File string
	// TUFURL is the TUF repository; default tuf.DefaultMirror (public good).
	TUFURL string
	// TUFRoot is the initial root.json for a custom TUFURL. When empty, the
	// root embedded in sigstore-go is used (the staging root for
	// tuf.StagingMirror, the public-good root otherwise).
	TUFRoot []byte
	// CacheDir is a writable per-run directory for TUF metadata; empty
	// disables the on-disk cache.
	CacheDir string
	// HTTPClient is used for every TUF request (it should have a timeout);
	// nil gives a client bounded by Timeout.
	HTTPClient *http.Client
	// Timeout bounds the whole TUF step (default DefaultTUFTimeout).
	Timeout time.Duration
}

// LoadTrustedRoot returns the trusted material described by o. A bad or
// unreadable file is a usage error ("trusted-root-invalid"); a TUF failure or
// timeout is inconclusive ("trusted-root-unavailable").
func LoadTrustedRoot(ctx context.Context, o TrustOptions) (root.TrustedMaterial, error) {
	if o.File != "" {
		return loadTrustedRootFile(o.File)
	}
	return loadTrustedRootTUF(ctx, o)
}

func loadTrustedRootFile(path string) (root.TrustedMaterial, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, verdict.Usagef("trusted-root-invalid", "cannot read trusted root %q: %v", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTrustedRootSize+1))
	if err != nil {
		return nil, verdict.Usagef("trusted-root-invalid", "cannot read trusted root %q: %v", path, err)
	}
	if len(data) > MaxTrustedRootSize {
		return nil, verdict.Usagef("trusted-root-invalid", "trusted root %q is larger than %d bytes", path, MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, verdict.Usagef("trusted-root-invalid", "trusted root %q is not a valid Sigstore trusted_root.json: %v", path, err)
	}
	return tr, nil
}

func loadTrustedRootTUF(ctx context.Context, o TrustOptions) (root.TrustedMaterial, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTUFTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	opts := &tuf.Options{
		Root:              o.TUFRoot,
		RepositoryBaseURL: o.TUFURL,
		CachePath:         o.CacheDir,
		Context:           ctx,
	}
	if opts.RepositoryBaseURL == "" {
		opts.RepositoryBaseURL = tuf.DefaultMirror
	}
	if len(opts.Root) == 0 {
		if opts.RepositoryBaseURL == tuf.StagingMirror {
			opts.Root = tuf.StagingRoot()
		} else {
			opts.Root = tuf.DefaultRoot()
		}
	}
	if opts.CachePath == "" {
		opts.DisableLocalCache = true
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	opts.Fetcher = &ctxFetcher{ctx: ctx, client: hc}

	type out struct {
		tr  *root.TrustedRoot
		err error
	}
	done := make(chan out, 1)
	go func() {
		c, err := tuf.New(opts)
		if err != nil {
			done <- out{nil, err}
			return
		}
		tr, err := root.GetTrustedRoot(c)
		done <- out{tr, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if ctx.Err() != nil {
				return nil, verdict.Inconclusivef("trusted-root-unavailable", "TUF update from %s did not finish within %s: %v", opts.RepositoryBaseURL, timeout, r.err)
			}
			return nil, verdict.Inconclusivef("trusted-root-unavailable", "cannot get the Sigstore trusted root from TUF %s: %v", opts.RepositoryBaseURL, r.err)
		}
		return r.tr, nil
	case <-ctx.Done():
		// The fetcher's requests carry ctx, so the goroutine ends soon after.
		return nil, verdict.Inconclusivef("trusted-root-unavailable", "TUF update from %s did not finish within %s: %v", opts.RepositoryBaseURL, timeout, ctx.Err())
	}
}

// ctxFetcher is a go-tuf fetcher whose requests use an injected client and
// are cancelled with ctx (go-tuf's default fetcher has no timeout at all).
type ctxFetcher struct {
	ctx    context.Context
	client *http.Client
}

// DownloadFile implements fetcher.Fetcher.
func (f *ctxFetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, urlPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "kms-verify")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		// go-tuf recognises this type (a 404 on the next root version ends the root walk).
		return nil, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: urlPath}
	}
	if res.ContentLength > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("download of %s: length %d is larger than %d", urlPath, res.ContentLength, maxLength)}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxLength+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("download of %s is larger than %d", urlPath, maxLength)}
	}
	return data, nil
}

var errNoTrustedMaterial = errors.New("no trusted material")
