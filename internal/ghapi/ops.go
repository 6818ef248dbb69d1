package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on the attestations API.
const (
	// MaxAttestations is the most attestation bundles Attestations returns.
	MaxAttestations = 32
	// MaxAttestationPages bounds the pages followed through the Link header.
	MaxAttestationPages = 8
	// MaxAttestationPageBytes bounds one page of the attestations API.
	MaxAttestationPageBytes = 16 << 20
	// MaxDispatchInputs is the most workflow_dispatch inputs GitHub accepts.
	MaxDispatchInputs = 25
	// maxAssetNameLen bounds a release asset name.
	maxAssetNameLen = 255
	// maxNamesListed bounds the asset names quoted in a "no such asset" error.
	maxNamesListed = 10
)

// ReleaseAsset downloads the asset named exactly name from the release whose
// tag is tag in owner/repo, reading at most max bytes (max <= 0 means
// DefaultMaxAssetBytes).
//
// The release is looked up through the API with the token; the asset bytes
// are fetched through the tokenless client, so the token never reaches the
// storage host GitHub redirects to. A missing release or asset gives an
// ErrInconclusive error with reason "bundle-missing"; an asset over max gives
// reason "asset-too-large".
func (c *Client) ReleaseAsset(ctx context.Context, owner, repo, tag, name string, max int64) ([]byte, error) {
	if err := checkRepo(owner, repo); err != nil {
		return nil, err
	}
	if !validRef(tag) {
		return nil, verdict.Usagef("invalid-tag", "tag %q is not a valid tag name (letters, digits, '.', '_', '-', '+', '@', '/')", tag)
	}
	if !validAssetName(name) {
		return nil, verdict.Usagef("invalid-asset-name", "release asset name %q is empty, too long or contains control characters", name)
	}
	if max <= 0 {
		max = DefaultMaxAssetBytes
	}
	where := fmt.Sprintf("release %s of %s/%s", tag, owner, repo)

	rel, _, err := c.gh.Repositories.GetReleaseByTag(ctx, owner, repo, tag)
	if err != nil {
		return nil, c.classify(err, "get "+where, "contents: read", func(cause error) error {
			return c.classed(verdict.ErrInconclusive, "bundle-missing", cause,
				"%s not found (HTTP 404); publish a GitHub release for the tag or check the repository and tag", where)
		})
	}
	asset, err := c.findAsset(ctx, owner, repo, rel, name, where)
	if err != nil {
		return nil, err
	}
	if asset.GetSize() < 0 || int64(asset.GetSize()) > max {
		return nil, c.classed(verdict.ErrInconclusive, "asset-too-large", nil,
			"asset %q of %s is %d bytes, over the %d-byte limit", name, where, asset.GetSize(), max)
	}

	rc, _, err := c.gh.Repositories.DownloadReleaseAsset(ctx, owner, repo, asset.GetID(), c.plain)
	if err != nil {
		return nil, c.classify(err, fmt.Sprintf("download asset %q of %s", name, where), "contents: read", func(cause error) error {
			return c.classed(verdict.ErrInconclusive, "bundle-missing", cause,
				"asset %q of %s could not be downloaded (HTTP 404)", name, where)
		})
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, c.classify(err, fmt.Sprintf("download asset %q of %s", name, where), "contents: read", nil)
	}
	if int64(len(data)) > max {
		return nil, c.classed(verdict.ErrInconclusive, "asset-too-large", nil,
			"asset %q of %s is over the %d-byte limit", name, where, max)
	}
	return data, nil
}

func validAssetName(s string) bool {
	if s == "" || len(s) > maxAssetNameLen {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// findAsset looks for name among the release's inline assets, then pages
// through the release's asset list (bounded by MaxAssetPages).
func (c *Client) findAsset(ctx context.Context, owner, repo string, rel *github.RepositoryRelease, name, where string) (*github.ReleaseAsset, error) {
	seen := map[string]bool{}
	for _, a := range rel.Assets {
		if a.GetName() == name {
			return a, nil
		}
		seen[a.GetName()] = true
	}
	if rel.GetID() != 0 {
		opts := &github.ListOptions{PerPage: assetsPerPage, Page: 1}
		for page := 0; page < MaxAssetPages; page++ {
			assets, resp, err := c.gh.Repositories.ListReleaseAssets(ctx, owner, repo, rel.GetID(), opts)
			if err != nil {
				return nil, c.classify(err, "list assets of "+where, "contents: read", nil)
			}
			for _, a := range assets {
				if a.GetName() == name {
					return a, nil
				}
				seen[a.GetName()] = true
			}
			if resp == nil || resp.NextPage == 0 || resp.NextPage <= opts.Page {
				break
			}
			opts.Page = resp.NextPage
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	has := "no assets"
	if len(names) > 0 {
		quoted := make([]string, 0, maxNamesListed)
		for i, n := range names {
			if i == maxNamesListed {
				quoted = append(quoted, "...")
				break
			}
			quoted = append(quoted, fmt.Sprintf("%q", n))
		}
		has = "assets " + strings.Join(quoted, ", ")
	}
	return nil, c.classed(verdict.ErrInconclusive, "bundle-missing", nil,
		"%s has no asset named %q (it has %s); upload it or fix the asset name", where, name, has)
}

// attestationsPage is one page of GET /repos/{owner}/{repo}/attestations/{digest}.
type attestationsPage struct {
	Attestations []struct {
		Bundle    json.RawMessage `json:"bundle"`
		BundleURL string          `json:"bundle_url"`
	} `json:"attestations"`
}

// Attestation is one attestation GitHub lists for a digest, read or not.
// Several per digest are normal (a workflow's provenance, GitHub's own
// immutable-release attestation, ...): the caller verifies each and keeps
// every one in its report.
type Attestation struct {
	// Index is the 1-based position in GitHub's answer, across pages.
	Index int
	// Source is SourceInline or SourceBundleURL.
	Source string
	// URL is the bundle_url without its query (RedactURL), "" when inline.
	URL string
	// Encoding is how a bundle_url body was encoded (EncodingSnappy, ...);
	// "" when inline or when the body could not be read.
	Encoding string
	// Bundle is the bundle JSON, unverified; nil when Err is set.
	Bundle []byte
	// Err says why the bundle could not be read: an ErrInconclusive-class
	// error with reason ReasonBundleURLUnavailable, ReasonBundleInvalid,
	// ReasonAttestationTooLarge or ReasonBundleUnavailable. It never
	// proves anything about the artifact.
	Err error
}

// Attestations lists the attestations GitHub holds for the artifact whose
// SHA-256 is sha256Hex (64 hex digits), through
// GET /repos/{owner}/{repo}/attestations/sha256:{hex}, and reads each
// bundle: inline when the API carries it, otherwise from its bundle_url
// (GitHub now answers "bundle": null with a pre-signed, time-limited URL on
// a blob-storage host serving a snappy block).
//
// A bundle_url is fetched through the tokenless client: the request and
// every redirect carry no Authorization header and no token. Bodies are
// decoded by Content-Type and magic bytes (snappy block, snappy framed
// stream or JSON), and no bundle larger than maxBundle bytes (decoded) is
// accepted: a snappy block's declared length is checked before allocation.
// At most MaxAttestations attestations are listed, from at most
// MaxAttestationPages pages followed through Link rel="next" on the API
// host, and at most MaxBundleURLFetches bundle_urls are fetched, each within
// BundleURLTimeout.
//
// An attestation that cannot be read is returned with Err set, never
// dropped. The error is for the listing itself: API failures, and
// ErrNoAttestation (reason "no-attestation") when GitHub knows none (HTTP
// 404 or an empty list). The bundles are unverified: the caller must
// verify them.
func (c *Client) Attestations(ctx context.Context, owner, repo, sha256Hex string, maxBundle int64) ([]Attestation, error) {
	if err := checkRepo(owner, repo); err != nil {
		return nil, err
	}
	hexDigest := strings.ToLower(sha256Hex)
	if !isSHA256Hex(hexDigest) {
		return nil, verdict.Usagef("invalid-digest", "SHA-256 %q is not 64 hexadecimal digits", sha256Hex)
	}
	if maxBundle <= 0 {
		return nil, verdict.Usagef("internal-error", "Attestations: the bundle size bound must be positive")
	}
	what := fmt.Sprintf("list attestations for sha256:%s in %s/%s", hexDigest, owner, repo)
	noAttestation := func(cause error) error {
		if cause == nil {
			cause = ErrNoAttestation
		} else {
			cause = errors.Join(ErrNoAttestation, cause)
		}
		return c.classed(verdict.ErrInconclusive, "no-attestation", cause,
			"no attestation found for sha256:%s in %s/%s", hexDigest, owner, repo)
	}

	next := fmt.Sprintf("repos/%s/%s/attestations/sha256:%s?per_page=%d", owner, repo, hexDigest, MaxAttestations)
	visited := map[string]bool{}
	var out []Attestation
	fetches := 0
	for page := 0; page < MaxAttestationPages && next != "" && len(out) < MaxAttestations; page++ {
		req, err := c.gh.NewRequest(http.MethodGet, next, nil)
		if err != nil {
			return nil, c.classed(verdict.ErrInconclusive, "github-api-error", err, "%s: bad request URL", what)
		}
		if visited[req.URL.String()] {
			break
		}
		visited[req.URL.String()] = true

		body, link, err := c.getPage(ctx, req)
		if err != nil {
			return nil, c.classify(err, what, "attestations: read", noAttestation)
		}
		var p attestationsPage
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, c.classify(err, what, "attestations: read", nil)
		}
		for _, a := range p.Attestations {
			if len(out) == MaxAttestations {
				break
			}
			at := Attestation{Index: len(out) + 1, Source: SourceInline}
			raw := a.Bundle
			switch {
			case len(raw) > 0 && string(raw) != "null" && int64(len(raw)) > maxBundle:
				at.Err = verdict.Inconclusivef(ReasonAttestationTooLarge, "the inline bundle is %d bytes, over the %d-byte limit", len(raw), maxBundle)
			case len(raw) > 0 && string(raw) != "null":
				at.Bundle = append([]byte(nil), raw...)
			case a.BundleURL == "":
				at.Err = verdict.Inconclusivef(ReasonBundleUnavailable, "GitHub listed the attestation with neither a bundle nor a bundle_url")
			default:
				at.Source = SourceBundleURL
				at.Encoding, at.Bundle, at.URL, at.Err = c.readBundleURL(ctx, a.BundleURL, maxBundle, &fetches)
			}
			out = append(out, at)
		}
		next, err = c.nextLink(link, req.URL)
		if err != nil {
			return nil, c.classed(verdict.ErrInconclusive, "github-api-error", err, "%s: %v", what, err)
		}
	}
	if len(out) == 0 {
		return nil, noAttestation(nil)
	}
	return out, nil
}

// readBundleURL validates and fetches one bundle_url, counting fetches
// against MaxBundleURLFetches.
func (c *Client) readBundleURL(ctx context.Context, raw string, maxBundle int64, fetches *int) (enc string, bundle []byte, shown string, err error) {
	u, err := parseBundleURL(raw)
	if err != nil {
		return "", nil, "", verdict.Inconclusivef(ReasonBundleURLUnavailable, "GitHub offered an unusable bundle_url: %v", err)
	}
	shown = RedactURL(u)
	if *fetches >= MaxBundleURLFetches {
		return "", nil, shown, verdict.Inconclusivef(ReasonBundleURLUnavailable,
			"bundle_url %s not fetched: GitHub offered more than %d attestations by URL for this digest", shown, MaxBundleURLFetches)
	}
	*fetches++
	enc, bundle, err = c.fetchBundleURL(ctx, u, maxBundle)
	return enc, bundle, shown, err
}

// getPage sends req through go-github (rate-limit and error handling) and
// reads the body, bounded by MaxAttestationPageBytes.
func (c *Client) getPage(ctx context.Context, req *http.Request) ([]byte, string, error) {
	resp, err := c.gh.BareDo(ctx, req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAttestationPageBytes+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > MaxAttestationPageBytes {
		return nil, "", fmt.Errorf("attestations page exceeds %d bytes", MaxAttestationPageBytes)
	}
	return body, resp.Header.Get("Link"), nil
}

// nextLink returns the rel="next" target of a Link header, resolved against
// the current URL, or "" when there is none. A next link that leaves the API
// (another scheme, host or path prefix) is an error: following it would
// send the token elsewhere.
func (c *Client) nextLink(header string, cur *url.URL) (string, error) {
	for _, part := range strings.Split(header, ",") {
		segs := strings.Split(strings.TrimSpace(part), ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.TrimSpace(segs[0])
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		isNext := false
		for _, s := range segs[1:] {
			s = strings.TrimSpace(s)
			if s == `rel="next"` || s == "rel=next" {
				isNext = true
			}
		}
		if !isNext {
			continue
		}
		u, err := cur.Parse(target[1 : len(target)-1])
		if err != nil {
			return "", fmt.Errorf("malformed pagination link")
		}
		if u.Scheme != c.base.Scheme || !strings.EqualFold(u.Host, c.base.Host) || !strings.HasPrefix(u.Path, c.base.Path) || u.User != nil {
			return "", fmt.Errorf("pagination link points outside the GitHub API (%s://%s); refusing to follow", u.Scheme, u.Host)
		}
		return u.String(), nil
	}
	return "", nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DispatchWorkflow triggers workflow_dispatch for the workflow file
// workflowFile (a file name such as "kms-verify.yml") of owner/repo on ref,
// with inputs (string, bool or number values). The token needs actions: write.
// GitHub refusing the dispatch (HTTP 422: no workflow_dispatch trigger,
// unknown ref or input) is an ErrUsage error with reason "dispatch-rejected".
func (c *Client) DispatchWorkflow(ctx context.Context, owner, repo, workflowFile, ref string, inputs map[string]any) error {
	if err := checkRepo(owner, repo); err != nil {
		return err
	}
	if err := ValidateWorkflowFile(workflowFile); err != nil {
		return err
	}
	if !validRef(ref) {
		return verdict.Usagef("invalid-ref", "ref %q is not a valid branch or tag name", ref)
	}
	if err := ValidateInputs(inputs); err != nil {
		return err
	}
	what := fmt.Sprintf("dispatch workflow %s of %s/%s on %s", workflowFile, owner, repo, ref)
	_, err := c.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, owner, repo, workflowFile,
		github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
	if err == nil {
		return nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity {
		return c.classed(verdict.ErrUsage, "dispatch-rejected", err,
			"%s: GitHub refused the dispatch (HTTP 422: %s); check the workflow has a workflow_dispatch trigger, the ref exists and every input is declared",
			what, serverMessage(er.Message))
	}
	return c.classify(err, what, "actions: write", func(cause error) error {
		return c.classed(verdict.ErrInconclusive, "github-not-found", cause,
			"%s: workflow or repository not found (HTTP 404); check the workflow file name and that the token has actions: write", what)
	})
}

// ValidateWorkflowFile checks a workflow file name as the dispatch API takes
// it: a bare file name ending in .yml or .yaml (letters, digits, '.', '_', '-').
func ValidateWorkflowFile(s string) error {
	ok := len(s) > 0 && len(s) <= 255 && (strings.HasSuffix(s, ".yml") || strings.HasSuffix(s, ".yaml")) && s[0] != '.'
	for i := 0; ok && i < len(s); i++ {
		ok = isAlnum(s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'
	}
	if !ok {
		return verdict.Usagef("invalid-workflow", "workflow %q is not a workflow file name such as kms-verify.yml (no directory)", s)
	}
	return nil
}

// ValidateRef reports whether s is acceptable as a tag or branch name for
// the API calls of this package (a conservative subset of git's rules).
func ValidateRef(s string) error {
	if !validRef(s) {
		return verdict.Usagef("invalid-ref", "ref %q is not a valid branch or tag name (letters, digits, '.', '_', '-', '+', '@', '/')", s)
	}
	return nil
}

// ValidateInputs checks workflow_dispatch inputs: at most MaxDispatchInputs,
// names of letters, digits, '_' and '-', values of type string, bool or number.
func ValidateInputs(inputs map[string]any) error {
	if len(inputs) > MaxDispatchInputs {
		return verdict.Usagef("invalid-inputs", "%d workflow inputs given; GitHub accepts at most %d", len(inputs), MaxDispatchInputs)
	}
	for k, v := range inputs {
		ok := k != "" && len(k) <= 100
		for i := 0; ok && i < len(k); i++ {
			ok = isAlnum(k[i]) || k[i] == '_' || k[i] == '-'
		}
		if !ok {
			return verdict.Usagef("invalid-inputs", "workflow input name %q must be letters, digits, '_' or '-'", k)
		}
		switch v.(type) {
		case string, bool, int, int64, float64:
		default:
			return verdict.Usagef("invalid-inputs", "workflow input %q has type %T; use a string, bool or number", k, v)
		}
	}
	return nil
}
