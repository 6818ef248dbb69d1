package sigstorekit

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lukium/kms-verify-action/internal/wellknown"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

const (
	testRepo     = "octo-org/widget"
	testWorkflow = ".github/workflows/release.yml"
	testTag      = "v1.2.3"
	testCommit   = "0123456789abcdef0123456789abcdef01234567"
)

var testArtifact = []byte("console.log('hello from the CDN');\n")

// strictVerifier is the strictest keyless policy: tlog + SCT + integrated time.
func strictVerifier(t *testing.T, tm root.TrustedMaterial, extra ...verify.VerifierOption) *verify.Verifier {
	t.Helper()
	opts := append([]verify.VerifierOption{
		verify.WithTransparencyLog(1),
		verify.WithSignedCertificateTimestamps(1),
		verify.WithIntegratedTimestamps(1),
	}, extra...)
	v, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func loadBundle(t *testing.T, js []byte) *bundle.Bundle {
	t.Helper()
	var b bundle.Bundle
	if err := b.UnmarshalJSON(js); err != nil {
		t.Fatalf("parse bundle: %v\n%s", err, js)
	}
	return &b
}

// identityPolicy pins SAN, issuer and every GitHub extension of id.
func identityPolicy(t *testing.T, id Identity) verify.PolicyOption {
	t.Helper()
	san, err := verify.NewSANMatcher(id.SAN, "")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := verify.NewIssuerMatcher(id.issuer(), "")
	if err != nil {
		t.Fatal(err)
	}
	ext := id.Ext
	ext.Issuer = "" // matched by the issuer matcher
	ci, err := verify.NewCertificateIdentity(san, iss, ext)
	if err != nil {
		t.Fatal(err)
	}
	return verify.WithCertificateIdentity(ci)
}

func shortIdentity(t *testing.T, issuer, san string) verify.PolicyOption {
	t.Helper()
	ci, err := verify.NewShortCertificateIdentity(issuer, "", san, "")
	if err != nil {
		t.Fatal(err)
	}
	return verify.WithCertificateIdentity(ci)
}

func newAuthority(t *testing.T, opts ...Option) (*Authority, root.TrustedMaterial) {
	t.Helper()
	a, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tm, err := a.TrustedMaterial()
	if err != nil {
		t.Fatalf("TrustedMaterial: %v", err)
	}
	return a, tm
}

func TestSignArtifactVerifiesWithGitHubIdentity(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t)
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	js, err := a.SignArtifact(testArtifact, id)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(testArtifact)
	res, err := strictVerifier(t, tm).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), identityPolicy(t, id)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wantSAN := "https://github.com/octo-org/widget/.github/workflows/release.yml@refs/tags/v1.2.3"
	if got := res.Signature.Certificate.SubjectAlternativeName; got != wantSAN {
		t.Errorf("SAN = %q, want %q", got, wantSAN)
	}
	if got := res.Signature.Certificate.CertificateIssuer; !strings.Contains(got, "sigstorekit-intermediate") {
		t.Errorf("certificate issuer = %q, want the kit intermediate", got)
	}
	if diff := cmp.Diff(id.Extensions(), res.Signature.Certificate.Extensions); diff != "" {
		t.Errorf("extensions differ (-put +verified):\n%s", diff)
	}
	if len(res.VerifiedTimestamps) != 1 || res.VerifiedTimestamps[0].Type != "Tlog" ||
		!res.VerifiedTimestamps[0].Timestamp.Equal(DefaultTime.Add(integratedDelay)) {
		t.Errorf("verified timestamps = %+v, want one Tlog at %v", res.VerifiedTimestamps, DefaultTime.Add(integratedDelay))
	}

	// The same bundle also verifies against the artifact bytes and with the
	// short identity policy, through a trusted root parsed from JSON alone.
	rootJSON, err := a.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strictVerifier(t, tr).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifact(bytes.NewReader(testArtifact)), shortIdentity(t, wellknown.GitHubActionsIssuer, wantSAN))); err != nil {
		t.Fatalf("Verify with artifact and root JSON: %v", err)
	}
}

func TestCertificateShape(t *testing.T) {
	t.Parallel()
	a, _ := newAuthority(t)
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	js, err := a.SignArtifact(testArtifact, id)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := loadBundle(t, js).VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	cert := vc.Certificate()
	if cert == nil {
		t.Fatal("bundle has no certificate")
	}
	if got, want := cert.NotAfter.Sub(cert.NotBefore), leafValidity; got != want {
		t.Errorf("validity = %v, want %v", got, want)
	}
	if !cert.NotBefore.Equal(DefaultTime) {
		t.Errorf("NotBefore = %v, want %v", cert.NotBefore, DefaultTime)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != id.SAN || len(cert.EmailAddresses) != 0 {
		t.Errorf("SANs = %v %v, want only URI %s", cert.URIs, cert.EmailAddresses, id.SAN)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Errorf("EKU = %v, want code signing", cert.ExtKeyUsage)
	}
	seen := map[string]bool{}
	for _, e := range cert.Extensions {
		seen[e.Id.String()] = true
		switch {
		case e.Id.Equal(certificate.OIDIssuer):
			if string(e.Value) != wellknown.GitHubActionsIssuer {
				t.Errorf("legacy issuer = %q", e.Value)
			}
		case e.Id.Equal(certificate.OIDIssuerV2), e.Id.Equal(certificate.OIDSourceRepositoryURI):
			var raw asn1.RawValue
			if _, err := asn1.Unmarshal(e.Value, &raw); err != nil || raw.Tag != asn1.TagUTF8String {
				t.Errorf("%v is not a DER UTF8String: tag %d, %v", e.Id, raw.Tag, err)
			}
		}
	}
	for _, oid := range []string{"1.3.6.1.4.1.57264.1.1", "1.3.6.1.4.1.57264.1.8", "1.3.6.1.4.1.57264.1.9",
		"1.3.6.1.4.1.57264.1.22", "1.3.6.1.4.1.11129.2.4.2"} {
		if !seen[oid] {
			t.Errorf("certificate lacks extension %s", oid)
		}
	}
	if seen[oidCTPoison.String()] {
		t.Error("final certificate still carries the CT poison extension")
	}
}

func TestEmptyExtensionsAreOmitted(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t)
	id := Identity{SAN: "https://example.com/signer"} // issuer defaults to GitHub's
	js, err := a.SignArtifact(testArtifact, id)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(testArtifact)
	res, err := strictVerifier(t, tm).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), shortIdentity(t, wellknown.GitHubActionsIssuer, id.SAN)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(certificate.Extensions{Issuer: wellknown.GitHubActionsIssuer}, res.Signature.Certificate.Extensions); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
}

func TestEmailIdentity(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t)
	id := Identity{SAN: "dev@example.com", Issuer: "https://accounts.example.com"}
	js, err := a.SignArtifact(testArtifact, id)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(testArtifact)
	if _, err := strictVerifier(t, tm).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), shortIdentity(t, id.Issuer, id.SAN))); err != nil {
		t.Fatal(err)
	}
}

func TestSignDSSEVerifies(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t)
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	digest := sha256.Sum256(testArtifact)
	subjects := []Subject{{Name: "widget.js", SHA256Hex: hex.EncodeToString(digest[:])}, {Name: "other.css", SHA256Hex: strings.Repeat("ab", 32)}}
	js, err := a.SignDSSE(subjects, wellknown.SLSAProvenanceV1, SLSAProvenance(testRepo, testWorkflow, testTag, testCommit), id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := strictVerifier(t, tm).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), identityPolicy(t, id)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Statement == nil || res.Statement.PredicateType != wellknown.SLSAProvenanceV1 || len(res.Statement.Subject) != 2 {
		t.Fatalf("statement = %v", res.Statement)
	}
	if diff := cmp.Diff(id.Extensions(), res.Signature.Certificate.Extensions); diff != "" {
		t.Errorf("extensions differ (-put +verified):\n%s", diff)
	}
	wf := res.Statement.Predicate.AsMap()["buildDefinition"].(map[string]any)["externalParameters"].(map[string]any)["workflow"].(map[string]any)
	want := map[string]any{"ref": "refs/tags/" + testTag, "repository": "https://github.com/" + testRepo, "path": testWorkflow}
	if diff := cmp.Diff(want, wf); diff != "" {
		t.Errorf("workflow (-want +got):\n%s", diff)
	}

	// A digest that is not a subject must fail.
	other := sha256.Sum256([]byte("not a subject"))
	if _, err := strictVerifier(t, tm).Verify(loadBundle(t, js),
		verify.NewPolicy(verify.WithArtifactDigest("sha256", other[:]), identityPolicy(t, id))); err == nil {
		t.Fatal("DSSE bundle verified for a digest that is not among its subjects")
	}
}

func TestSignWithKeyVerifies(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t)
	digest := sha256.Sum256(testArtifact)
	js, keyPEM, err := a.SignWithKey(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keyPEM, a.ManagedKeyPEM()) || !bytes.Contains(keyPEM, []byte("BEGIN PUBLIC KEY")) {
		t.Errorf("key PEM = %s", keyPEM)
	}
	v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	b := loadBundle(t, js)
	if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), verify.WithKey())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	if pk := vc.PublicKey(); pk == nil || pk.Hint() != a.ManagedKeyHint() {
		t.Errorf("public key hint = %v, want %s", pk, a.ManagedKeyHint())
	}
	// The trusted root alone (no managed key) cannot verify it.
	trJSON, err := a.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(loadBundle(t, js), verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), verify.WithKey())); err == nil {
		t.Fatal("key bundle verified without the key in trusted material")
	}
}

func TestTimestampAuthority(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t, WithTSA())
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	digest := sha256.Sum256(testArtifact)
	policy := func() verify.PolicyBuilder {
		return verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), identityPolicy(t, id))
	}
	tests := []struct {
		name     string
		opts     []SignOption
		verifier []verify.VerifierOption
	}{
		{"tlog and TSA", []SignOption{WithTimestamp()},
			[]verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithSignedCertificateTimestamps(1), verify.WithSignedTimestamps(1), verify.WithIntegratedTimestamps(1)}},
		{"TSA only, no tlog", []SignOption{WithTimestamp(), WithoutTlog()},
			[]verify.VerifierOption{verify.WithSignedCertificateTimestamps(1), verify.WithSignedTimestamps(1)}},
		{"observer timestamps", []SignOption{WithTimestamp()},
			[]verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithSignedCertificateTimestamps(1), verify.WithObserverTimestamps(2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			js, err := a.SignDigest(digest[:], id, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.NewVerifier(tm, tc.verifier...)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(loadBundle(t, js), policy())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var sawTSA bool
			for _, ts := range res.VerifiedTimestamps {
				if ts.Type == "TimestampAuthority" && ts.Timestamp.Equal(DefaultTime.Add(tsaDelay)) {
					sawTSA = true
				}
			}
			if !sawTSA {
				t.Errorf("no TSA timestamp at %v in %+v", DefaultTime.Add(tsaDelay), res.VerifiedTimestamps)
			}
		})
	}
	// DSSE with a TSA timestamp too.
	js, err := a.SignDSSE([]Subject{{Name: "a", SHA256Hex: hex.EncodeToString(digest[:])}}, wellknown.SLSAProvenanceV1,
		SLSAProvenance(testRepo, testWorkflow, testTag, testCommit), id, WithTimestamp())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithSignedCertificateTimestamps(1), verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(loadBundle(t, js), policy()); err != nil {
		t.Fatalf("DSSE with TSA: %v", err)
	}
}

func TestWithTimestampNeedsTSA(t *testing.T) {
	t.Parallel()
	a, _ := newAuthority(t)
	_, err := a.SignArtifact(testArtifact, GitHubIdentity(testRepo, testWorkflow, testTag, testCommit), WithTimestamp())
	if !errors.Is(err, ErrNoTSA) {
		t.Fatalf("err = %v, want ErrNoTSA", err)
	}
}

func TestVerificationFailures(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t, WithTSA())
	other, otherTM := newAuthority(t, WithTSA())
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	digest := sha256.Sum256(testArtifact)
	otherDigest := sha256.Sum256([]byte("tampered CDN content"))
	good := func(t *testing.T, opts ...SignOption) []byte {
		t.Helper()
		js, err := a.SignDigest(digest[:], id, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	tests := []struct {
		name    string
		bundle  func(t *testing.T) []byte
		tm      root.TrustedMaterial
		digest  []byte
		policy  verify.PolicyOption
		wantErr string // substring naming the failed stage
	}{
		{name: "tampered inclusion proof", bundle: func(t *testing.T) []byte { return good(t, WithTamperedInclusionProof()) },
			tm: tm, digest: digest[:], wantErr: "failed to verify log inclusion"},
		{name: "tampered proof in a larger tree", bundle: func(t *testing.T) []byte {
			good(t)
			good(t)
			return good(t, WithTamperedInclusionProof())
		}, tm: tm, digest: digest[:], wantErr: "failed to verify log inclusion"},
		{name: "other authority's root", bundle: func(t *testing.T) []byte { return good(t) },
			tm: otherTM, digest: digest[:], wantErr: "not enough verified log entries"},
		{name: "bundle from other authority", bundle: func(t *testing.T) []byte {
			js, err := other.SignDigest(digest[:], id)
			if err != nil {
				t.Fatal(err)
			}
			return js
		}, tm: tm, digest: digest[:], wantErr: "not enough verified log entries"},
		{name: "other digest", bundle: func(t *testing.T) []byte { return good(t) },
			tm: tm, digest: otherDigest[:], wantErr: "failed to verify signature"},
		{name: "tampered signature", bundle: func(t *testing.T) []byte { return good(t, WithTamperedSignature()) },
			tm: tm, digest: digest[:], wantErr: "signature does not match"},
		{name: "wrong workflow identity", bundle: func(t *testing.T) []byte { return good(t) },
			tm: tm, digest: digest[:], wantErr: "failed to verify certificate identity",
			policy: shortIdentity(t, wellknown.GitHubActionsIssuer, GitHubIdentity(testRepo, ".github/workflows/evil.yml", testTag, testCommit).SAN)},
		{name: "wrong commit extension", bundle: func(t *testing.T) []byte { return good(t) },
			tm: tm, digest: digest[:], wantErr: "failed to verify certificate identity",
			policy: identityPolicy(t, GitHubIdentity(testRepo, testWorkflow, testTag, strings.Repeat("f", 40)))},
		{name: "signed by a different workflow", bundle: func(t *testing.T) []byte {
			js, err := a.SignDigest(digest[:], GitHubIdentity("evil/fork", testWorkflow, testTag, testCommit))
			if err != nil {
				t.Fatal(err)
			}
			return js
		}, tm: tm, digest: digest[:], wantErr: "failed to verify certificate identity"},
		{name: "no SCT", bundle: func(t *testing.T) []byte { return good(t, WithoutSCT()) },
			tm: tm, digest: digest[:], wantErr: "signed certificate timestamp"},
		{name: "no tlog entry", bundle: func(t *testing.T) []byte { return good(t, WithoutTlog(), WithTimestamp()) },
			tm: tm, digest: digest[:], wantErr: "not enough verified log entries"},
		{name: "signed before the trust root", bundle: func(t *testing.T) []byte {
			return good(t, WithSigningTime(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)))
		}, tm: tm, digest: digest[:], wantErr: "not enough verified log entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			policy := tc.policy
			if policy == nil {
				policy = identityPolicy(t, id)
			}
			_, err := strictVerifier(t, tc.tm).Verify(loadBundle(t, tc.bundle(t)),
				verify.NewPolicy(verify.WithArtifactDigest("sha256", tc.digest), policy))
			if err == nil {
				t.Fatal("verification succeeded, want failure")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestOldBundleStillVerifies(t *testing.T) {
	t.Parallel()
	signedAt := time.Date(2025, time.January, 15, 9, 30, 0, 0, time.UTC)
	a, tm := newAuthority(t, WithTSA())
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	js, err := a.SignArtifact(testArtifact, id, WithSigningTime(signedAt), WithTimestamp())
	if err != nil {
		t.Fatal(err)
	}
	b := loadBundle(t, js)
	vc, err := b.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	if !vc.Certificate().NotAfter.Before(time.Now()) {
		t.Fatalf("certificate (NotAfter %v) has not expired; the test needs an expired one", vc.Certificate().NotAfter)
	}
	digest := sha256.Sum256(testArtifact)
	res, err := strictVerifier(t, tm, verify.WithSignedTimestamps(1)).Verify(b,
		verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), identityPolicy(t, id)))
	if err != nil {
		t.Fatalf("Verify of a bundle signed %v: %v", signedAt, err)
	}
	for _, ts := range res.VerifiedTimestamps {
		if ts.Timestamp.Before(signedAt) || ts.Timestamp.After(signedAt.Add(leafValidity)) {
			t.Errorf("verified timestamp %v outside the certificate's validity", ts.Timestamp)
		}
	}
}

func TestManyEntriesShareOneConsistentLog(t *testing.T) {
	t.Parallel()
	a, tm := newAuthority(t, WithTreeID(42))
	id := GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)
	v := strictVerifier(t, tm)
	for i := range 7 {
		artifact := []byte{byte(i)}
		var js []byte
		var err error
		if i%2 == 0 {
			js, err = a.SignArtifact(artifact, id)
		} else {
			d := sha256.Sum256(artifact)
			js, err = a.SignDSSE([]Subject{{Name: "x", SHA256Hex: hex.EncodeToString(d[:])}}, "https://example.com/p", map[string]any{"i": i}, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		b := loadBundle(t, js)
		entries, err := b.TlogEntries()
		if err != nil {
			t.Fatal(err)
		}
		tle := entries[0].TransparencyLogEntry()
		if tle.LogIndex != int64(i+1) || tle.InclusionProof.LogIndex != int64(i+1) || tle.InclusionProof.TreeSize != int64(i+2) {
			t.Errorf("entry %d: log index %d, tree size %d", i, tle.LogIndex, tle.InclusionProof.TreeSize)
		}
		if !strings.HasPrefix(tle.InclusionProof.Checkpoint.Envelope, rekorHostname+" - 42\n") {
			t.Errorf("checkpoint origin: %q", tle.InclusionProof.Checkpoint.Envelope)
		}
		d := sha256.Sum256(artifact)
		if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", d[:]), identityPolicy(t, id))); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

func TestMerkleProofs(t *testing.T) {
	t.Parallel()
	var leaves [][]byte
	for n := 1; n <= 33; n++ {
		leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf([]byte{byte(n)}))
		rootHash := mth(leaves)
		for m := range n {
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(m), uint64(n), leaves[m], auditPath(m, leaves), rootHash); err != nil {
				t.Fatalf("n=%d m=%d: %v", n, m, err)
			}
		}
	}
}

func TestTrustedRootJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    []Option
		wantTSA int
	}{
		{"without TSA", nil, 0},
		{"with TSA", []Option{WithTSA()}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, _ := newAuthority(t, tc.opts...)
			js, err := a.TrustedRootJSON()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				MediaType string `json:"mediaType"`
			}
			if err := json.Unmarshal(js, &doc); err != nil || doc.MediaType != TrustedRootMediaType {
				t.Fatalf("mediaType = %q (%v)", doc.MediaType, err)
			}
			tr, err := root.NewTrustedRootFromJSON(js)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(tr.TimestampingAuthorities()); n != tc.wantTSA {
				t.Errorf("%d TSAs, want %d", n, tc.wantTSA)
			}
			if len(tr.RekorLogs()) != 1 || len(tr.CTLogs()) != 1 || len(tr.FulcioCertificateAuthorities()) != 1 {
				t.Errorf("rekor %d, ct %d, ca %d; want 1 each", len(tr.RekorLogs()), len(tr.CTLogs()), len(tr.FulcioCertificateAuthorities()))
			}
			for _, l := range tr.RekorLogs() {
				if !l.ValidityPeriodEnd.IsZero() || l.ValidityPeriodStart.After(DefaultTime.AddDate(-1, 0, 0)) {
					t.Errorf("rekor validity %v..%v, want open-ended and well before signing", l.ValidityPeriodStart, l.ValidityPeriodEnd)
				}
			}
		})
	}
}

func TestSLSAProvenanceRoundTrips(t *testing.T) {
	t.Parallel()
	p := SLSAProvenance(testRepo, testWorkflow, testTag, testCommit)
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("round trip (-orig +back):\n%s", diff)
	}
	dep := p["buildDefinition"].(map[string]any)["resolvedDependencies"].([]any)[0].(map[string]any)
	if dep["uri"] != "git+https://github.com/octo-org/widget@refs/tags/v1.2.3" ||
		dep["digest"].(map[string]any)["gitCommit"] != testCommit {
		t.Errorf("resolvedDependencies[0] = %v", dep)
	}
}

func TestSignDigestRejectsBadLength(t *testing.T) {
	t.Parallel()
	a, _ := newAuthority(t)
	if _, err := a.SignDigest([]byte("short"), GitHubIdentity(testRepo, testWorkflow, testTag, testCommit)); err == nil {
		t.Fatal("SignDigest accepted a 5-byte digest")
	}
	if _, _, err := a.SignWithKey(make([]byte, 31)); err == nil {
		t.Fatal("SignWithKey accepted a 31-byte digest")
	}
	if _, err := a.SignArtifact(testArtifact, Identity{}); err == nil {
		t.Fatal("SignArtifact accepted an identity without SAN")
	}
}
