package sigstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

const (
	repo     = "octo/widget"
	workflow = ".github/workflows/release.yml"
	tag      = "v1.0.1"
	commit   = "0123456789abcdef0123456789abcdef01234567"
	other    = "fedcba9876543210fedcba9876543210fedcba98"
)

var (
	artifact    = []byte("console.log('release v1.0.1');\n")
	otherFile   = []byte("console.log('something else');\n")
	artifactSum = sha256.Sum256(artifact)
	otherSum    = sha256.Sum256(otherFile)
)

type world struct {
	kit, stranger *sigstorekit.Authority
	tm            root.TrustedMaterial
}

var (
	worldOnce sync.Once
	theWorld  world
	worldErr  error
)

func getWorld(t *testing.T) world {
	t.Helper()
	worldOnce.Do(func() {
		var w world
		if w.kit, worldErr = sigstorekit.New(sigstorekit.WithTSA()); worldErr != nil {
			return
		}
		if w.stranger, worldErr = sigstorekit.New(); worldErr != nil {
			return
		}
		if w.tm, worldErr = w.kit.TrustedMaterial(); worldErr != nil {
			return
		}
		theWorld = w
	})
	if worldErr != nil {
		t.Fatalf("sigstorekit: %v", worldErr)
	}
	return theWorld
}

func ghID() sigstorekit.Identity { return sigstorekit.GitHubIdentity(repo, workflow, tag, commit) }

func ghPolicy() sigstore.Policy { return sigstore.GitHubPolicy("", repo, workflow, tag, commit) }

func provenance() map[string]any { return sigstorekit.SLSAProvenance(repo, workflow, tag, commit) }

func subj(b []byte) []sigstorekit.Subject {
	s := sha256.Sum256(b)
	return []sigstorekit.Subject{{Name: "dist/app.js", SHA256Hex: hex.EncodeToString(s[:])}}
}

// must(t)(kit call) fails the test when the fixture cannot be made.
func must(t *testing.T) func([]byte, error) []byte {
	t.Helper()
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatalf("making fixture: %v", err)
		}
		return b
	}
}

func failing(checks []verdict.Check) map[string]bool {
	m := map[string]bool{}
	for _, c := range checks {
		if c.Status == verdict.StatusFail {
			m[c.ID] = true
		}
	}
	return m
}

func TestVerifyGood(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	cases := []struct {
		name     string
		bundle   func(t *testing.T) []byte
		policy   func() sigstore.Policy
		kind     string
		minTimes int
	}{
		{"message signature", func(t *testing.T) []byte { return must(t)(w.kit.SignArtifact(artifact, ghID())) }, ghPolicy, sigstore.KindMessageSignature, 1},
		{"dsse slsa provenance", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1, provenance(), ghID()))
		}, ghPolicy, sigstore.KindDSSE, 1},
		{"dsse among many subjects", func(t *testing.T) []byte {
			subs := append(subj(otherFile), subj(artifact)...)
			return must(t)(w.kit.SignDSSE(subs, wellknown.SLSAProvenanceV1, provenance(), ghID()))
		}, ghPolicy, sigstore.KindDSSE, 1},
		{"rfc3161 timestamp too", func(t *testing.T) []byte {
			return must(t)(w.kit.SignArtifact(artifact, ghID(), sigstorekit.WithTimestamp()))
		}, ghPolicy, sigstore.KindMessageSignature, 2},
		{"anchored regexp matching whole SAN", func(t *testing.T) []byte { return must(t)(w.kit.SignArtifact(artifact, ghID())) },
			func() sigstore.Policy {
				p := ghPolicy()
				p.SAN, p.SANRegexp = "", `https://github\.com/octo/widget/\.github/workflows/release\.yml@refs/tags/v[0-9.]+`
				return p
			}, sigstore.KindMessageSignature, 1},
		{"self-hosted allowed explicitly", func(t *testing.T) []byte {
			id := ghID()
			id.Ext.RunnerEnvironment = "self-hosted"
			return must(t)(w.kit.SignArtifact(artifact, id))
		}, func() sigstore.Policy {
			p := ghPolicy()
			p.RunnerEnvironment, p.AllowSelfHosted = "", true
			return p
		}, sigstore.KindMessageSignature, 1},
		{"signed in 2025, certificate long expired", func(t *testing.T) []byte {
			return must(t)(w.kit.SignArtifact(artifact, ghID(), sigstorekit.WithSigningTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))))
		}, ghPolicy, sigstore.KindMessageSignature, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.bundle(t)
			res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "file:app.js.sigstore.json", JSON: b}}, artifactSum[:], tc.policy())
			if err != nil {
				t.Fatalf("Verify: %v\nchecks: %+v", err, res.Checks)
			}
			if v, reason := verdict.Combine(res.Checks); v != verdict.Verified {
				t.Fatalf("Combine = %s/%s, want verified; checks %+v", v, reason, res.Checks)
			}
			s := res.Signer
			if s.Kind != tc.kind || s.Bundle != "file:app.js.sigstore.json" {
				t.Errorf("kind/bundle = %q/%q", s.Kind, s.Bundle)
			}
			if s.Repository != "https://github.com/"+repo || s.Ref != "refs/tags/"+tag || s.Commit != commit ||
				s.Issuer != wellknown.GitHubActionsIssuer || !strings.HasSuffix(s.SAN, workflow+"@refs/tags/"+tag) || s.Workflow != s.SAN ||
				s.Trigger != "push" || !strings.Contains(s.RunURL, "/actions/runs/") {
				t.Errorf("signer fields wrong: %+v", s)
			}
			if s.IntegratedTime.IsZero() || s.LogID == "" || len(s.Timestamps) < tc.minTimes {
				t.Errorf("log/timestamps wrong: %+v", s)
			}
			if tc.kind == sigstore.KindDSSE && s.PredicateType != wellknown.SLSAProvenanceV1 {
				t.Errorf("predicate type = %q", s.PredicateType)
			}
		})
	}
}

// TestVerifyAdversarial asserts, for each attack, which check fails and why.
func TestVerifyAdversarial(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	idWith := func(f func(*sigstorekit.Identity)) sigstorekit.Identity {
		id := ghID()
		f(&id)
		return id
	}
	msg := func(id sigstorekit.Identity, opts ...sigstorekit.SignOption) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return must(t)(w.kit.SignArtifact(artifact, id, opts...)) }
	}
	cases := []struct {
		name       string
		bundle     func(t *testing.T) []byte
		policy     func() sigstore.Policy
		reason     string
		wantFailed []string
	}{
		{"repository with one letter added",
			msg(sigstorekit.GitHubIdentity(repo+"s", workflow, tag, commit)), ghPolicy,
			"identity-mismatch", []string{"identity.san", "identity.source-repository-uri", "identity.build-signer-uri"}},
		{"tag v1.0 expected, v1.0.1 signed",
			msg(ghID()), func() sigstore.Policy { return sigstore.GitHubPolicy("", repo, workflow, "v1.0", commit) },
			"identity-mismatch", []string{"identity.san", "identity.source-repository-ref"}},
		{"another workflow file in the same repository",
			msg(sigstorekit.GitHubIdentity(repo, ".github/workflows/evil.yml", tag, commit)), ghPolicy,
			"identity-mismatch", []string{"identity.san", "identity.build-signer-uri"}},
		{"self-hosted runner",
			msg(idWith(func(id *sigstorekit.Identity) { id.Ext.RunnerEnvironment = "self-hosted" })), ghPolicy,
			"identity-mismatch", []string{"identity.runner-environment"}},
		{"certificate for the commit of another tag",
			msg(idWith(func(id *sigstorekit.Identity) { id.Ext.SourceRepositoryDigest = other })), ghPolicy,
			"identity-mismatch", []string{"identity.source-repository-digest"}},
		{"SAN one character longer",
			msg(idWith(func(id *sigstorekit.Identity) { id.SAN += "x" })), ghPolicy,
			"identity-mismatch", []string{"identity.san"}},
		{"wrong issuer",
			msg(idWith(func(id *sigstorekit.Identity) { id.Issuer = "https://token.actions.githubusercontent.com.evil.example" })), ghPolicy,
			"identity-mismatch", []string{"identity.issuer"}},
		{"regexp that matches only unanchored",
			msg(sigstorekit.GitHubIdentity("evil/"+strings.ReplaceAll(repo, "/", "-"), workflow, tag, commit)),
			func() sigstore.Policy {
				p := sigstore.Policy{Issuer: wellknown.GitHubActionsIssuer, SANRegexp: `github\.com/octo/widget/`}
				return p
			},
			"identity-mismatch", []string{"identity.san"}},
		{"regexp prefix of the real SAN is not enough",
			msg(ghID()),
			func() sigstore.Policy {
				return sigstore.Policy{Issuer: wellknown.GitHubActionsIssuer, SANRegexp: `https://github\.com/octo/widget/`}
			},
			"identity-mismatch", []string{"identity.san"}},
		{"message signature over another file",
			func(t *testing.T) []byte { return must(t)(w.kit.SignArtifact(otherFile, ghID())) }, ghPolicy,
			"subject-mismatch", []string{"subject"}},
		{"attestation subject digest of another file",
			func(t *testing.T) []byte {
				return must(t)(w.kit.SignDSSE(subj(otherFile), wellknown.SLSAProvenanceV1, provenance(), ghID()))
			}, ghPolicy,
			"subject-mismatch", []string{"subject"}},
		{"predicate type of another kind",
			func(t *testing.T) []byte {
				return must(t)(w.kit.SignDSSE(subj(artifact), "https://spdx.dev/Document", map[string]any{"spdxVersion": "SPDX-2.3"}, ghID()))
			}, ghPolicy,
			"predicate-mismatch", []string{"predicate-type"}},
		{"provenance names another workflow",
			func(t *testing.T) []byte {
				return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1,
					sigstorekit.SLSAProvenance(repo, ".github/workflows/evil.yml", tag, commit), ghID()))
			}, ghPolicy,
			"predicate-mismatch", []string{"provenance.workflow-path"}},
		{"provenance names another commit",
			func(t *testing.T) []byte {
				return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1,
					sigstorekit.SLSAProvenance(repo, workflow, tag, other), ghID()))
			}, ghPolicy,
			"predicate-mismatch", []string{"provenance.commit"}},
		{"bundle from an unrelated root",
			func(t *testing.T) []byte { return must(t)(w.stranger.SignArtifact(artifact, ghID())) }, ghPolicy,
			"signature-invalid", []string{"signature"}},
		{"tampered inclusion proof",
			msg(ghID(), sigstorekit.WithTamperedInclusionProof()), ghPolicy,
			"signature-invalid", []string{"signature"}},
		{"tampered signature",
			msg(ghID(), sigstorekit.WithTamperedSignature()), ghPolicy,
			"signature-invalid", []string{"signature"}},
		{"no transparency log entry",
			msg(ghID(), sigstorekit.WithoutTlog()), ghPolicy,
			"signature-invalid", []string{"signature"}},
		{"no SCT",
			msg(ghID(), sigstorekit.WithoutSCT()), ghPolicy,
			"signature-invalid", []string{"signature"}},
		{"managed key expected, certificate given",
			msg(ghID()), func() sigstore.Policy { return sigstore.Policy{Key: w.kit.ManagedKeyPEM()} },
			"identity-mismatch", []string{"identity.key"}},
		{"certificate identity expected, managed key given",
			func(t *testing.T) []byte {
				b, _, err := w.kit.SignWithKey(artifactSum[:])
				return must(t)(b, err)
			}, ghPolicy,
			"identity-mismatch", []string{"identity.san"}},
		{"managed key of another authority",
			func(t *testing.T) []byte {
				b, _, err := w.kit.SignWithKey(artifactSum[:])
				return must(t)(b, err)
			}, func() sigstore.Policy { return sigstore.Policy{Key: w.stranger.ManagedKeyPEM()} },
			"signature-invalid", []string{"signature"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.bundle(t)
			res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "release-asset:app.js.sigstore.json", JSON: b}}, artifactSum[:], tc.policy())
			if err == nil {
				t.Fatalf("Verify succeeded; checks %+v", res.Checks)
			}
			if !errors.Is(err, verdict.ErrFailed) {
				t.Fatalf("error class = %v, want ErrFailed: %v", verdict.ClassOf(err), err)
			}
			if got := verdict.ReasonOf(err); got != tc.reason {
				t.Errorf("reason = %q, want %q (%v)", got, tc.reason, err)
			}
			if res.Signer.Bundle != "" || res.Signer.SAN != "" {
				t.Errorf("failed verification reports a signer: %+v", res.Signer)
			}
			f := failing(res.Checks)
			for _, id := range tc.wantFailed {
				if !f[id] {
					t.Errorf("check %q did not fail; checks %+v", id, res.Checks)
				}
			}
			if v, _ := verdict.Combine(res.Checks); v != verdict.Failed {
				t.Errorf("Combine(checks) = %s, want failed", v)
			}
			for _, c := range res.Checks {
				if c.Status == verdict.StatusFail && c.Message == "" {
					t.Errorf("failing check %q has no message", c.ID)
				}
				if c.Subject != "release-asset:app.js.sigstore.json" {
					t.Errorf("check %q subject = %q", c.ID, c.Subject)
				}
			}
		})
	}
}

// TestVerifyUnreadableBundleIsInconclusive: a bundle that cannot be parsed
// or is structurally invalid proves nothing either way: "could not verify"
// (bundle-invalid), never a failure, whatever the bytes.
func TestVerifyUnreadableBundleIsInconclusive(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good := must(t)(w.kit.SignArtifact(artifact, ghID()))
	var noMaterial map[string]any
	if err := json.Unmarshal(good, &noMaterial); err != nil {
		t.Fatal(err)
	}
	delete(noMaterial, "verificationMaterial")
	stripped, _ := json.Marshal(noMaterial)
	nested := []byte(strings.Repeat("[", 3<<20) + strings.Repeat("]", 3<<20)) // 6 MB
	for name, b := range map[string][]byte{
		"not JSON":                 []byte("not json at all"),
		"empty object":             []byte(`{}`),
		"empty":                    nil,
		"JSON null":                []byte(`null`),
		"a 6 MB nested array":      nested,
		"an HTML page":             []byte("<!doctype html><html><body>Not Found</body></html>"),
		"unknown media type":       []byte(`{"mediaType":"nope"}`),
		"no verification material": stripped,
		"larger than the bound":    make([]byte, sigstore.MaxBundleSize+1),
		"truncated bundle":         good[:len(good)/2],
		"an array of good bundles": append(append([]byte("["), good...), ']'),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "app.js.sigstore.json", JSON: b}}, artifactSum[:], sigstore.GitHubPolicy("", repo, workflow, tag, commit))
			if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "bundle-invalid" {
				t.Fatalf("Verify = %v (%s), want could not verify: bundle-invalid", err, verdict.ReasonOf(err))
			}
			if len(res.Candidates) != 1 || res.Candidates[0].Outcome != sigstore.OutcomeUnusable {
				t.Errorf("candidates = %+v, want one unusable", res.Candidates)
			}
		})
	}
}

func TestVerifyMismatchNamesExpectedAndActual(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	b := must(t)(w.kit.SignArtifact(artifact, sigstorekit.GitHubIdentity(repo, workflow, "v1.0.1", commit)))
	res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "x", JSON: b}}, artifactSum[:],
		sigstore.GitHubPolicy("", repo, workflow, "v1.0", commit))
	if err == nil {
		t.Fatal("verified")
	}
	for _, c := range res.Checks {
		if c.ID == "identity.source-repository-ref" {
			if c.Expected != "refs/tags/v1.0" || c.Actual != "refs/tags/v1.0.1" || c.Status != verdict.StatusFail {
				t.Errorf("ref check = %+v", c)
			}
			if !strings.Contains(err.Error(), "refs/tags/v1.0") {
				t.Errorf("error does not name the value: %v", err)
			}
			return
		}
	}
	t.Fatalf("no identity.source-repository-ref check: %+v", res.Checks)
}

func TestVerifyManagedKey(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	b, pemKey, err := w.kit.SignWithKey(artifactSum[:])
	if err != nil {
		t.Fatal(err)
	}
	res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "k", JSON: b}}, artifactSum[:], sigstore.Policy{Key: pemKey})
	if err != nil {
		t.Fatalf("Verify: %v %+v", err, res.Checks)
	}
	if res.Signer.SAN != "" || res.Signer.Kind != sigstore.KindMessageSignature || res.Signer.IntegratedTime.IsZero() {
		t.Errorf("signer = %+v", res.Signer)
	}
	// Same bundle, another artifact: the signature does not cover it.
	if _, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "k", JSON: b}}, otherSum[:], sigstore.Policy{Key: pemKey}); !errors.Is(err, verdict.ErrFailed) {
		t.Errorf("other artifact: err = %v, want failed", err)
	}
}

func TestVerifyCandidates(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good := must(t)(w.kit.SignArtifact(artifact, ghID()))
	wrongTag := must(t)(w.kit.SignArtifact(artifact, sigstorekit.GitHubIdentity(repo, workflow, "v0.9", commit)))
	junk := []byte("not json")
	ctx := context.Background()

	t.Run("first that verifies wins", func(t *testing.T) {
		t.Parallel()
		res, err := sigstore.Verify(ctx, w.tm, []sigstore.Candidate{{Name: "junk", JSON: junk}, {Name: "wrong-tag", JSON: wrongTag}, {Name: "attestation #2", JSON: good}}, artifactSum[:], ghPolicy())
		if err != nil {
			t.Fatal(err)
		}
		if res.Signer.Bundle != "attestation #2" {
			t.Errorf("winner = %q", res.Signer.Bundle)
		}
		if v, _ := verdict.Combine(res.Checks); v != verdict.Verified {
			t.Errorf("winning checks not verified: %+v", res.Checks)
		}
	})
	t.Run("best attempt is reported", func(t *testing.T) {
		t.Parallel()
		res, err := sigstore.Verify(ctx, w.tm, []sigstore.Candidate{{Name: "junk", JSON: junk}, {Name: "wrong-tag", JSON: wrongTag}}, artifactSum[:], ghPolicy())
		if verdict.ReasonOf(err) != "identity-mismatch" || !strings.Contains(err.Error(), "wrong-tag") {
			t.Fatalf("err = %v", err)
		}
		if !failing(res.Checks)["identity.source-repository-ref"] {
			t.Errorf("checks = %+v", res.Checks)
		}
	})
	t.Run("no candidates", func(t *testing.T) {
		t.Parallel()
		_, err := sigstore.Verify(ctx, w.tm, nil, artifactSum[:], ghPolicy())
		if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "bundle-missing" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("too many candidates", func(t *testing.T) {
		t.Parallel()
		cs := make([]sigstore.Candidate, sigstore.MaxCandidates+1)
		_, err := sigstore.Verify(ctx, w.tm, cs, artifactSum[:], ghPolicy())
		if !errors.Is(err, verdict.ErrInconclusive) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		c, cancel := context.WithCancel(ctx)
		cancel()
		_, err := sigstore.Verify(c, w.tm, []sigstore.Candidate{{Name: "g", JSON: good}}, artifactSum[:], ghPolicy())
		if !errors.Is(err, verdict.ErrInconclusive) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("invalid policy is usage", func(t *testing.T) {
		t.Parallel()
		_, err := sigstore.Verify(ctx, w.tm, []sigstore.Candidate{{Name: "g", JSON: good}}, artifactSum[:], sigstore.Policy{})
		if !errors.Is(err, verdict.ErrUsage) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad digest length is usage", func(t *testing.T) {
		t.Parallel()
		_, err := sigstore.Verify(ctx, w.tm, []sigstore.Candidate{{Name: "g", JSON: good}}, artifactSum[:5], ghPolicy())
		if !errors.Is(err, verdict.ErrUsage) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestVerifyStatementEdges(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	many := make([]sigstorekit.Subject, 0, sigstore.MaxSubjects+1)
	for i := 0; i < sigstore.MaxSubjects; i++ {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		many = append(many, sigstorekit.Subject{Name: "f", SHA256Hex: hex.EncodeToString(s[:])})
	}
	many = append(many, subj(artifact)...)
	otherRepo := provenance()
	otherRepo["buildDefinition"].(map[string]any)["resolvedDependencies"] = []any{
		map[string]any{"uri": "git+https://github.com/evil/widget@refs/tags/v1.0.1", "digest": map[string]any{"gitCommit": commit}},
	}
	cases := []struct {
		name   string
		bundle func(t *testing.T) []byte
		policy sigstore.Policy
		reason string // "" = verifies
		check  string
	}{
		{"predicate without workflow or dependencies", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1, map[string]any{"buildDefinition": map[string]any{}}, ghID()))
		}, ghPolicy(), "", ""},
		{"any predicate type when asked", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), "https://example.com/custom/v1", map[string]any{"x": 1}, ghID()))
		}, func() sigstore.Policy { p := ghPolicy(); p.PredicateType, p.AnyPredicateType = "", true; return p }(), "", ""},
		{"custom predicate type expected", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), "https://example.com/custom/v1", map[string]any{"x": 1}, ghID()))
		}, func() sigstore.Policy { p := ghPolicy(); p.PredicateType = "https://example.com/custom/v1"; return p }(), "", ""},
		{"too many subjects", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(many, wellknown.SLSAProvenanceV1, provenance(), ghID()))
		}, ghPolicy(), "subject-mismatch", "subject"},
		{"provenance resolves another repository", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1, otherRepo, ghID()))
		}, ghPolicy(), "predicate-mismatch", "provenance.commit"},
		{"provenance names another ref", func(t *testing.T) []byte {
			return must(t)(w.kit.SignDSSE(subj(artifact), wellknown.SLSAProvenanceV1, sigstorekit.SLSAProvenance(repo, workflow, "v9", commit), ghID()))
		}, ghPolicy(), "predicate-mismatch", "provenance.ref"},
		{"payload is not an in-toto statement", func(t *testing.T) []byte {
			return must(t)(w.kit.SignPayload("text/plain", []byte("hello"), ghID()))
		}, ghPolicy(), "signature-invalid", "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "a", JSON: tc.bundle(t)}}, artifactSum[:], tc.policy)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v; checks %+v", err, res.Checks)
				}
				return
			}
			if !errors.Is(err, verdict.ErrFailed) || verdict.ReasonOf(err) != tc.reason {
				t.Fatalf("err = %v (reason %s), want %s", err, verdict.ReasonOf(err), tc.reason)
			}
			if !failing(res.Checks)[tc.check] {
				t.Errorf("check %q did not fail: %+v", tc.check, res.Checks)
			}
		})
	}
}

// TestVerifyGitHubInstanceRoot: a trusted root with no transparency log and
// no CT log (GitHub's own Sigstore instance, used for private repositories)
// requires an RFC 3161 timestamp instead, and says so in the checks.
func TestVerifyGitHubInstanceRoot(t *testing.T) {
	t.Parallel()
	kit, err := sigstorekit.New(sigstorekit.WithTSA())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kit.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "tlogs")
	delete(doc, "ctlogs")
	stripped, _ := json.Marshal(doc)
	tm, err := root.NewTrustedRootFromJSON(stripped)
	if err != nil {
		t.Fatal(err)
	}
	art := []byte("private enclave")
	digest := sha256.Sum256(art)
	withTSA := must(t)(kit.SignArtifact(art, ghID(), sigstorekit.WithoutTlog(), sigstorekit.WithTimestamp(), sigstorekit.WithoutSCT()))
	noTSA := must(t)(kit.SignArtifact(art, ghID(), sigstorekit.WithoutTlog(), sigstorekit.WithoutSCT()))

	res, err := sigstore.Verify(context.Background(), tm, []sigstore.Candidate{{Name: "tsa", JSON: withTSA}}, digest[:], ghPolicy())
	if err != nil {
		t.Fatalf("TSA-timestamped bundle against a log-less root: %v", err)
	}
	skipped := map[string]bool{}
	for _, c := range res.Checks {
		if c.Status == verdict.StatusSkipped {
			skipped[c.ID] = true
		}
	}
	if !skipped["transparency-log"] || !skipped["certificate-transparency"] {
		t.Errorf("the replaced requirements are not reported: %+v", res.Checks)
	}
	if _, err := sigstore.Verify(context.Background(), tm, []sigstore.Candidate{{Name: "none", JSON: noTSA}}, digest[:], ghPolicy()); !errors.Is(err, verdict.ErrFailed) {
		t.Errorf("a bundle with neither a log entry nor a timestamp must fail, got %v", err)
	}
}
