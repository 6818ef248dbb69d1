// Package conformance implements the sigstore-conformance client protocol
// for `kms-verify verify-bundle`, so that the Sigstore verification this
// tool relies on can be exercised by the upstream conformance suite:
//
//	verify-bundle [--staging] --bundle FILE
//	    (--key FILE | --certificate-identity SAN [--certificate-oidc-issuer ISSUER]
//	     | --certificate-identity-regexp RE [--certificate-oidc-issuer ISSUER])
//	    [--trusted-root FILE] [--format text|json] FILE_OR_DIGEST
//
// FILE_OR_DIGEST is a path or sha256:<hex>. The identity check is SAN (or an
// anchored SAN regexp) plus issuer, with no GitHub binding; everything else
// is decided by sigstore-go through package sigstore.
package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Bounds.
const (
	// MaxKeySize bounds a --key PEM file.
	MaxKeySize = 64 << 10
	// HTTPTimeout bounds each TUF request.
	HTTPTimeout = 30 * time.Second
)

type options struct {
	staging     bool
	bundle      string
	key         string
	san         string
	sanRegexp   string
	issuer      string
	trustedRoot string
	format      string
	target      string
}

// valueFlags take one argument; boolFlags take none.
var (
	valueFlags = map[string]bool{
		"bundle": true, "key": true, "certificate-identity": true, "certificate-identity-regexp": true,
		"certificate-oidc-issuer": true, "trusted-root": true, "format": true,
	}
	boolFlags = map[string]bool{"staging": true}
)

// Usage is the help text of kms-verify verify-bundle.
const Usage = `Usage: kms-verify verify-bundle [--staging] --bundle FILE
           (--key FILE | (--certificate-identity SAN | --certificate-identity-regexp RE)
                         [--certificate-oidc-issuer ISSUER])
           [--trusted-root FILE] [--format text|json] FILE_OR_DIGEST

Verifies one Sigstore bundle for one artifact, as sigstore-go decides, and
speaks the sigstore-conformance client protocol. FILE_OR_DIGEST is a path or
sha256:<hex>. --certificate-oidc-issuer defaults to GitHub Actions'
(` + wellknown.GitHubActionsIssuer + `), as in kms-verify verify. Without --trusted-root the Sigstore public-good root is fetched
through TUF (--staging: the staging root). Exit 0 when the bundle verifies,
1 when it does not, 2 when it could not be checked, 3 for invalid usage; the
reason is one line on stderr.

Examples:
  kms-verify verify-bundle --bundle app.js.sigstore.json \
    --certificate-identity https://github.com/acme/kms/.github/workflows/release.yml@refs/tags/v1.0.1 \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com app.js

  kms-verify verify-bundle --bundle b.json --key cosign.pub --trusted-root trusted_root.json \
    sha256:0bb86c3826803adaa7b99537b0a319fa344afd373f6b1f09216965424f34d0db
`

// parse reads args in any order: flags (--name value or --name=value) may
// come before or after the positional FILE_OR_DIGEST; "--" ends the flags.
func parse(args []string) (options, error) {
	o := options{format: "text"}
	seen := map[string]bool{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		switch {
		case boolFlags[name]:
			if hasVal {
				return o, fmt.Errorf("flag --%s takes no value", name)
			}
		case valueFlags[name]:
			if !hasVal {
				if i+1 >= len(args) {
					return o, fmt.Errorf("flag --%s needs a value", name)
				}
				i++
				val = args[i]
			}
		default:
			return o, fmt.Errorf("unknown flag %s", a)
		}
		if seen[name] {
			return o, fmt.Errorf("flag --%s given twice", name)
		}
		seen[name] = true
		switch name {
		case "staging":
			o.staging = true
		case "bundle":
			o.bundle = val
		case "key":
			o.key = val
		case "certificate-identity":
			o.san = val
		case "certificate-identity-regexp":
			o.sanRegexp = val
		case "certificate-oidc-issuer":
			o.issuer = val
		case "trusted-root":
			o.trustedRoot = val
		case "format":
			o.format = val
		}
	}
	switch {
	case len(pos) != 1:
		return o, fmt.Errorf("want exactly one FILE_OR_DIGEST, got %d", len(pos))
	case o.bundle == "":
		return o, errors.New("--bundle FILE is required")
	case o.format != "text" && o.format != "json":
		return o, fmt.Errorf("--format must be text or json, not %q", o.format)
	case o.key != "" && (o.san != "" || o.sanRegexp != "" || o.issuer != ""):
		return o, errors.New("--key cannot be combined with --certificate-identity/--certificate-oidc-issuer")
	case o.key == "" && o.san == "" && o.sanRegexp == "":
		return o, errors.New("--certificate-identity or --certificate-identity-regexp is required (or --key)")
	case o.san != "" && o.sanRegexp != "":
		return o, errors.New("use --certificate-identity or --certificate-identity-regexp, not both")
	}
	if o.key == "" && o.issuer == "" {
		// As kms-verify verify does: a certificate identity without an
		// issuer means GitHub Actions' issuer.
		o.issuer = wellknown.GitHubActionsIssuer
	}
	o.target = pos[0]
	return o, nil
}

// Run runs `kms-verify verify-bundle ARGS`: nil when the bundle verifies for
// the artifact and identity, otherwise an error classed with verdict
// (ErrUsage, ErrFailed or ErrInconclusive) after one line of reason on
// stderr. The caller maps the class to the exit code. With --format json a
// small JSON result goes to stdout.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Help only as the whole command line: a file or flag value spelled
	// "--help" must never end the run with "verified" status.
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, Usage)
		return nil
	}
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "verify-bundle: %s\n", oneLine(err.Error()))
		return verdict.New(verdict.ErrUsage, "invalid-flag", err)
	}
	res, err := run(ctx, o)
	if o.format == "json" {
		writeJSON(stdout, res, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify-bundle: %s: %s\n", verdict.ReasonOf(err), oneLine(err.Error()))
		return err
	}
	if o.format == "text" {
		who := res.Signer.SAN
		if who == "" {
			who = "managed key"
		}
		fmt.Fprintf(stdout, "verified: %s signed by %s\n", oneLine(res.Signer.Kind), oneLine(who))
	}
	return nil
}

func run(ctx context.Context, o options) (sigstore.Result, error) {
	digest, err := targetDigest(o.target)
	if err != nil {
		return sigstore.Result{}, err
	}
	bundleJSON, err := readBounded(o.bundle, sigstore.MaxBundleSize, "bundle", verdict.ErrFailed)
	if err != nil {
		return sigstore.Result{}, err
	}
	p := sigstore.Policy{SAN: o.san, SANRegexp: o.sanRegexp, Issuer: o.issuer, AnyPredicateType: true}
	if o.key != "" {
		key, err := readBounded(o.key, MaxKeySize, "key", verdict.ErrUsage)
		if err != nil {
			return sigstore.Result{}, err
		}
		p = sigstore.Policy{Key: key, AnyPredicateType: true}
	}
	if err := p.Validate(); err != nil {
		return sigstore.Result{}, err
	}
	topt := sigstore.TrustOptions{File: o.trustedRoot, HTTPClient: &http.Client{Timeout: HTTPTimeout}}
	if o.staging {
		topt.TUFURL, topt.TUFRoot = tuf.StagingMirror, tuf.StagingRoot()
	}
	tm, err := sigstore.LoadTrustedRoot(ctx, topt)
	if err != nil {
		return sigstore.Result{}, err
	}
	return sigstore.Verify(ctx, tm, []sigstore.Candidate{{Name: "file:" + o.bundle, JSON: bundleJSON}}, digest, p)
}

// targetDigest returns the SHA-256 of FILE_OR_DIGEST, hashing a file as it streams.
func targetDigest(t string) ([]byte, error) {
	if h, ok := strings.CutPrefix(t, "sha256:"); ok {
		d, err := hex.DecodeString(h)
		if err != nil || len(d) != sha256.Size {
			return nil, verdict.Usagef("digest-invalid", "%q is not sha256:<64 hex digits>", t)
		}
		return d, nil
	}
	f, err := os.Open(t)
	if err != nil {
		return nil, verdict.Usagef("artifact-unreadable", "cannot open the artifact: %v", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, verdict.Inconclusivef("artifact-unreadable", "cannot read the artifact: %v", err)
	}
	return h.Sum(nil), nil
}

// readBounded reads at most limit bytes of path; a larger file is an error
// of class tooBig.
func readBounded(path string, limit int64, what string, tooBig error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if what == "bundle" {
			// As in kms-verify verify: missing material means "could not verify".
			return nil, verdict.Inconclusivef("bundle-missing", "cannot open the bundle: %v", err)
		}
		return nil, verdict.Usagef(what+"-unreadable", "cannot open the %s: %v", what, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, verdict.Usagef(what+"-unreadable", "cannot read the %s: %v", what, err)
	}
	if int64(len(b)) > limit {
		return nil, verdict.New(tooBig, what+"-invalid", fmt.Errorf("the %s is larger than %d bytes", what, limit))
	}
	return b, nil
}

type jsonResult struct {
	Verified bool             `json:"verified"`
	Reason   string           `json:"reason"`
	Error    string           `json:"error,omitempty"`
	Signer   *sigstore.Signer `json:"signer,omitempty"`
	Checks   []verdict.Check  `json:"checks"`
}

func writeJSON(w io.Writer, res sigstore.Result, err error) {
	out := jsonResult{Verified: err == nil, Reason: verdict.ReasonOK, Checks: res.Checks}
	if out.Checks == nil {
		out.Checks = []verdict.Check{}
	}
	if err != nil {
		out.Reason, out.Error = verdict.ReasonOf(err), err.Error()
	} else {
		out.Signer = &res.Signer
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// oneLine keeps a message on one line without control characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
