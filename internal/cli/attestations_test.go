package cli_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// presigned is the query of every bundle_url the tests hand out: it stands
// for the time-limited signature of a real pre-signed URL and must never
// appear in a log or a report.
const presigned = "?sv=2025-01-01&se=2030-01-01T00%3A00%3AZ&sr=b&sp=r&sig=PRESIGNEDsecret"

// blobHost stands for the blob storage GitHub's bundle_url points at: a
// first host that may redirect to a second one. Both record whether any
// request carried an Authorization header, and how many they served.
type blobHost struct {
	first, second *httptest.Server
	mu            sync.Mutex
	blobs         map[string]blob
	sawAuth       []string
	requests      atomic.Int32
}

type blob struct {
	status   int
	ctype    string
	body     []byte
	redirect bool // serve a redirect to the same path on the second host
}

func newBlobHost(t *testing.T) *blobHost {
	b := &blobHost{blobs: map[string]blob{}}
	handler := func(host string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b.requests.Add(1)
			b.mu.Lock()
			if a := r.Header.Get("Authorization"); a != "" || strings.Contains(fmt.Sprint(r.Header), token) {
				b.sawAuth = append(b.sawAuth, host+" "+r.URL.Path)
			}
			bl, ok := b.blobs[r.URL.Path]
			b.mu.Unlock()
			if r.URL.Query().Get("sig") == "" {
				http.Error(w, "AuthenticationFailed: no signature", http.StatusForbidden)
				return
			}
			switch {
			case !ok:
				http.NotFound(w, r)
			case bl.redirect && host == "first":
				http.Redirect(w, r, b.second.URL+r.URL.Path+"?sig=SECONDsecret", http.StatusFound)
			case bl.status != 0:
				http.Error(w, "AuthenticationFailed: Signed expiry time has passed", bl.status)
			default:
				w.Header().Set("Content-Type", bl.ctype)
				_, _ = w.Write(bl.body)
			}
		}
	}
	b.first = httptest.NewServer(handler("first"))
	b.second = httptest.NewServer(handler("second"))
	t.Cleanup(b.first.Close)
	t.Cleanup(b.second.Close)
	return b
}

// put serves bl at path and returns the pre-signed bundle_url for it.
func (b *blobHost) put(path string, bl blob) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.blobs[path] = bl
	return b.first.URL + path + presigned
}

func (b *blobHost) snappy(path string, bundle []byte) string {
	return b.put(path, blob{ctype: "application/x-snappy", body: snappy.Encode(nil, bundle)})
}

func (b *blobHost) checkNoAuth(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sawAuth) > 0 {
		t.Errorf("credentials reached the blob host: %v", b.sawAuth)
	}
}

// entry is one attestation in the API's answer: an inline bundle or a bundle_url.
type entry struct {
	bundle []byte
	url    string
}

func inline(b []byte) entry { return entry{bundle: b} }
func byURL(u string) entry  { return entry{url: u} }
func attestationsJSON(entries ...entry) []byte {
	var list []map[string]any
	for _, e := range entries {
		if e.url != "" {
			list = append(list, map[string]any{"bundle": nil, "bundle_url": e.url, "repository_id": 1})
		} else {
			list = append(list, map[string]any{"bundle": json.RawMessage(e.bundle), "repository_id": 1})
		}
	}
	out, _ := json.Marshal(map[string]any{"attestations": list})
	return out
}

// attestationBundles are the bundles GitHub would hold for the release.
type attestationBundles struct {
	workflow, otherWorkflow, release []byte
}

func makeAttestations(t *testing.T, w world) attestationBundles {
	t.Helper()
	subj := []sigstorekit.Subject{{Name: artifactName, SHA256Hex: artifactHash}}
	dsse := func(id sigstorekit.Identity, ptype string, pred any) []byte {
		b, err := w.ca.SignDSSE(subj, ptype, pred, id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const deploy = ".github/workflows/deploy.yml"
	return attestationBundles{
		workflow: dsse(goodID(w), wellknown.SLSAProvenanceV1, sigstorekit.SLSAProvenance(signerRepo, workflow, tag, w.commit)),
		otherWorkflow: dsse(sigstorekit.GitHubIdentity(signerRepo, deploy, tag, w.commit), wellknown.SLSAProvenanceV1,
			sigstorekit.SLSAProvenance(signerRepo, deploy, tag, w.commit)),
		release: dsse(sigstorekit.GitHubReleaseIdentity(""), sigstorekit.GitHubReleasePredicateType,
			sigstorekit.GitHubReleasePredicate(signerRepo, tag)),
	}
}

// tamperLiteral flips one character of the DSSE signature where it sits,
// verbatim, in a snappy block: the block still decodes, to other bytes.
func tamperLiteral(t *testing.T, bundle []byte) []byte {
	t.Helper()
	var b struct {
		DSSE struct {
			Signatures []struct{ Sig string } `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil || len(b.DSSE.Signatures) == 0 {
		t.Fatalf("not a DSSE bundle: %v", err)
	}
	sig := b.DSSE.Signatures[0].Sig
	block := snappy.Encode(nil, bundle)
	// Any 16 characters of the signature that the block holds as a literal
	// (snappy may encode a few as copies of earlier bytes).
	i := -1
	for off := 0; off+16 <= len(sig) && i < 0; off++ {
		if j := bytes.Index(block, []byte(sig[off:off+16])); j >= 0 {
			i = j + 8
		}
	}
	if i < 0 {
		t.Fatal("the signature is not a literal in the snappy block")
	}
	if block[i] == 'A' {
		block[i] = 'B'
	} else {
		block[i] = 'A'
	}
	return block
}

func TestAttestationsByBundleURL(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	ab := makeAttestations(t, w)
	tests := []struct {
		name string
		// listing builds the API's answer, serving blobs on b.
		listing  func(b *blobHost) []byte
		extra    []string
		code     int
		reason   string
		outcomes []string // per candidate, in GitHub's order
	}{
		{"by URL only: verified", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.snappy("/att/1.json.sn", ab.workflow)))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeAccepted}},
		{"by URL through a redirect to another host: verified", func(b *blobHost) []byte {
			u := b.put("/att/moved.json.sn", blob{redirect: true, ctype: "application/x-snappy", body: snappy.Encode(nil, ab.workflow)})
			return attestationsJSON(byURL(u))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeAccepted}},
		{"a snappy framed stream and plain JSON decode too", func(b *blobHost) []byte {
			var fr bytes.Buffer
			sw := snappy.NewBufferedWriter(&fr)
			_, _ = sw.Write(ab.release)
			_ = sw.Close()
			return attestationsJSON(
				byURL(b.put("/att/r.json.sn", blob{ctype: "application/octet-stream", body: fr.Bytes()})),
				byURL(b.put("/att/w.json", blob{ctype: "application/json", body: ab.workflow})))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeNotApplicable, sigstore.OutcomeAccepted}},
		{"page mixing inline and by URL: the workflow's by URL", func(b *blobHost) []byte {
			return attestationsJSON(inline(ab.release), byURL(b.snappy("/att/2.json.sn", ab.workflow)))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeNotApplicable, sigstore.OutcomeAccepted}},
		{"page mixing inline and by URL: the workflow's inline", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.snappy("/att/3.json.sn", ab.release)), inline(ab.workflow))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeNotApplicable, sigstore.OutcomeAccepted}},
		{"immutable-release attestation alone: not verified", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.snappy("/att/4.json.sn", ab.release)))
		}, nil, cli.ExitInconclusive, sigstore.ReasonNotWorkflowSigner, []string{sigstore.OutcomeNotApplicable}},
		{"immutable-release attestation alone with --require-attestation", func(b *blobHost) []byte {
			return attestationsJSON(inline(ab.release))
		}, []string{"--require-attestation"}, cli.ExitFailed, "no-attestation", []string{sigstore.OutcomeNotApplicable}},
		{"another workflow's attestation by URL: failed", func(b *blobHost) []byte {
			return attestationsJSON(inline(ab.release), byURL(b.snappy("/att/5.json.sn", ab.otherWorkflow)))
		}, nil, cli.ExitFailed, "predicate-mismatch", []string{sigstore.OutcomeNotApplicable, sigstore.OutcomeRejected}},
		{"tampered compressed literal: decodes, signature fails", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.put("/att/6.json.sn", blob{ctype: "application/x-snappy", body: tamperLiteral(t, ab.workflow)})))
		}, nil, cli.ExitFailed, "signature-invalid", []string{sigstore.OutcomeRejected}},
		{"tampered compressed header: cannot be decoded", func(b *blobHost) []byte {
			block := snappy.Encode(nil, ab.workflow)
			block[0] ^= 0x01 // the decoded length no longer matches the block
			return attestationsJSON(byURL(b.put("/att/7.json.sn", blob{ctype: "application/x-snappy", body: block})))
		}, nil, cli.ExitInconclusive, "bundle-invalid", []string{sigstore.OutcomeUnusable}},
		{"decompression bomb", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.put("/att/bomb.json.sn", blob{ctype: "application/x-snappy", body: binary.AppendUvarint(nil, 0xfffffff0)})))
		}, nil, cli.ExitInconclusive, "attestation-too-large", []string{sigstore.OutcomeUnusable}},
		{"expired URL (403)", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.put("/att/old.json.sn", blob{status: http.StatusForbidden})))
		}, nil, cli.ExitInconclusive, ghapi.ReasonBundleURLUnavailable, []string{sigstore.OutcomeUnusable}},
		{"expired URL next to GitHub's release attestation", func(b *blobHost) []byte {
			return attestationsJSON(inline(ab.release), byURL(b.put("/att/old.json.sn", blob{status: http.StatusForbidden})))
		}, nil, cli.ExitInconclusive, ghapi.ReasonBundleURLUnavailable, []string{sigstore.OutcomeNotApplicable, sigstore.OutcomeUnusable}},
		{"expired URL next to the workflow's: verified", func(b *blobHost) []byte {
			return attestationsJSON(byURL(b.put("/att/old.json.sn", blob{status: http.StatusForbidden})), inline(ab.workflow))
		}, nil, cli.ExitVerified, "ok", []string{sigstore.OutcomeUnusable, sigstore.OutcomeAccepted}},
		{"unreachable blob host", func(b *blobHost) []byte {
			dead := httptest.NewServer(http.NotFoundHandler())
			dead.Close()
			return attestationsJSON(byURL(dead.URL + "/att/x.json.sn" + presigned))
		}, nil, cli.ExitInconclusive, ghapi.ReasonBundleURLUnavailable, []string{sigstore.OutcomeUnusable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBlobHost(t)
			body := tt.listing(b)
			g := newGitHubAPI(t)
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/sha256:"+artifactHash, func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write(body)
			})
			c := newCDN(t, serve(artifact))
			args := append(verifyArgs(w, c, "github-attestations", "--github-api-url", g.url()), tt.extra...)
			res := run(t, runOpts{env: map[string]string{"GH_TOKEN": token}}, args...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tt.code, res.stdout, res.stderr)
			}
			if res.rep.Reason != tt.reason {
				t.Errorf("reason %q, want %q", res.rep.Reason, tt.reason)
			}
			sig := res.rep.Signature
			if sig == nil || len(sig.Candidates) != len(tt.outcomes) {
				t.Fatalf("signature candidates: %+v, want %d", sig, len(tt.outcomes))
			}
			for i, cd := range sig.Candidates {
				if cd.Outcome != tt.outcomes[i] || cd.Origin == "" || cd.Message == "" ||
					!strings.Contains(cd.Name, fmt.Sprintf("attestation #%d", i+1)) {
					t.Errorf("candidate %d: %+v, want outcome %s", i+1, cd, tt.outcomes[i])
				}
			}
			if tt.code != cli.ExitVerified && !strings.Contains(res.stdout+res.stderr, tt.reason) {
				t.Errorf("the output does not name the reason %q", tt.reason)
			}
			g.checkTokens(t)
			b.checkNoAuth(t)
			if c.sawAuth {
				t.Error("the token reached the CDN")
			}
			assertNoToken(t, res)
			assertNoPresignedQuery(t, res)
		})
	}
}

// TestAttestationPagesBounded: an API that links page after page, each
// offering a bundle_url, is read for a bounded number of pages and fetches;
// a workflow attestation on a later page is still found within the bounds.
func TestAttestationPagesBounded(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	ab := makeAttestations(t, w)
	for _, tc := range []struct {
		name      string
		goodOn    int // page (1-based) that carries the workflow's attestation; 0 = none
		code      int
		reason    string
		pages     int
		blobReads int
	}{
		{"endless pages of expired URLs", 0, cli.ExitInconclusive, ghapi.ReasonBundleURLUnavailable, ghapi.MaxAttestationPages, ghapi.MaxBundleURLFetches},
		{"the workflow's on page 3", 3, cli.ExitVerified, "ok", ghapi.MaxAttestationPages, ghapi.MaxBundleURLFetches},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBlobHost(t)
			expired := b.put("/att/old.json.sn", blob{status: http.StatusForbidden})
			good := b.snappy("/att/good.json.sn", ab.workflow)
			g := newGitHubAPI(t)
			var pages atomic.Int32
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/sha256:"+artifactHash, func(rw http.ResponseWriter, r *http.Request) {
				n := int(pages.Add(1))
				rw.Header().Set("Link", fmt.Sprintf(`<%srepos/acme/kms/attestations/sha256:%s?after=c%d>; rel="next"`, g.url(), artifactHash, n))
				entries := []entry{byURL(expired), byURL(expired)}
				if n == tc.goodOn {
					entries = append(entries, inline(ab.release), byURL(good))
				}
				_, _ = rw.Write(attestationsJSON(entries...))
			})
			c := newCDN(t, serve(artifact))
			res := run(t, runOpts{env: map[string]string{"GH_TOKEN": token}}, verifyArgs(w, c, "github-attestations", "--github-api-url", g.url())...)
			if res.code != tc.code || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d reason %q, want %d %q\n%s%s", res.code, res.rep.Reason, tc.code, tc.reason, res.stdout, res.stderr)
			}
			if n := int(pages.Load()); n != tc.pages {
				t.Errorf("API pages read = %d, want %d", n, tc.pages)
			}
			if n := int(b.requests.Load()); n != tc.blobReads {
				t.Errorf("blob requests = %d, want %d", n, tc.blobReads)
			}
			if n := len(res.rep.Signature.Candidates); n != 2*tc.pages+2*min(tc.goodOn, 1) {
				t.Errorf("%d candidates reported, want every one listed", n)
			}
			b.checkNoAuth(t)
			assertNoPresignedQuery(t, res)
		})
	}
}

func assertNoPresignedQuery(t *testing.T, res result) {
	t.Helper()
	data, _ := json.Marshal(res.rep)
	for name, s := range map[string]string{"stdout": res.stdout, "stderr": res.stderr, "report": string(data)} {
		if strings.Contains(s, "PRESIGNEDsecret") || strings.Contains(s, "SECONDsecret") || strings.Contains(s, "sig=") {
			t.Errorf("the pre-signed query of a bundle_url leaked into %s", name)
		}
	}
}
