package sigstore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on what Verify accepts.
const (
	// MaxBundleSize bounds one bundle's JSON, wherever it comes from (file, URL,
	// release asset, attestation inline or decoded from a bundle_url): the one
	// home of that bound.
	MaxBundleSize = 10 << 20
	// MaxCandidates bounds how many bundles one Verify call tries.
	MaxCandidates = 32
	// MaxSubjects bounds the subjects of an in-toto statement.
	MaxSubjects = 1024
)

// Bundle kinds reported in Signer.Kind.
const (
	KindMessageSignature = "message-signature"
	KindDSSE             = "dsse"
)

// Candidate is one bundle to try. Name says which it is:
// "file:x", "https://...", "release-asset:x", "attestation #2 from o/r".
type Candidate struct {
	Name string
	JSON []byte
	// Origin says how the bundle was obtained, for the report ("inline",
	// "bundle_url https://host/path (snappy)"); optional.
	Origin string
	// Err, when set, says why the bundle could not be obtained or decoded
	// (a classed error such as reason "bundle-url-unavailable"). Verify
	// records the candidate as unusable and does not try it.
	Err error
	// Listed marks one of the bundles a service listed for the digest (the
	// attestations API), where several per digest are normal. A listed
	// bundle that cannot be parsed proves nothing (unusable, not rejected),
	// and a listed attestation from GitHub's release service is set aside
	// as not applicable when a workflow identity is expected. A bundle the
	// user named (file, URL, release asset) that cannot be parsed is rejected.
	Listed bool
}

// Signer describes the verified signer of the winning bundle. Every value
// comes from verified material; it is only filled in on success.
type Signer struct {
	// Bundle is the Candidate.Name that verified.
	Bundle string `json:"bundle"`
	// Kind is KindMessageSignature or KindDSSE.
	Kind string `json:"kind"`
	// Certificate identity (empty in managed-key mode). Workflow is the
	// BuildSignerURI, Repository the SourceRepositoryURI, Commit the
	// SourceRepositoryDigest, Trigger the BuildTrigger, RunURL the RunInvocationURI.
	SAN               string `json:"san,omitempty"`
	Issuer            string `json:"issuer,omitempty"`
	Workflow          string `json:"workflow,omitempty"`
	Repository        string `json:"repository,omitempty"`
	Ref               string `json:"ref,omitempty"`
	Commit            string `json:"commit,omitempty"`
	RunnerEnvironment string `json:"runnerEnvironment,omitempty"`
	Trigger           string `json:"trigger,omitempty"`
	RunURL            string `json:"runUrl,omitempty"`
	// KeyHint is the bundle's public key hint in managed-key mode.
	KeyHint string `json:"keyHint,omitempty"`
	// Transparency log entry.
	LogIndex       int64     `json:"logIndex"`
	LogID          string    `json:"logId,omitempty"`
	IntegratedTime time.Time `json:"integratedTime,omitzero"`
	// Timestamps are the verified timestamps the certificate was checked at.
	Timestamps []time.Time `json:"timestamps,omitempty"`
	// PredicateType is the in-toto predicate type of a DSSE bundle.
	PredicateType string `json:"predicateType,omitempty"`
}

// Result is a successful verification (Signer) and the checks explaining
// it; on failure Checks explain the closest attempt and Signer is empty.
// Candidates says what became of every candidate, in order, whatever the
// outcome (empty only when Verify refused to start).
type Result struct {
	Signer     Signer
	Checks     []verdict.Check
	Candidates []CandidateResult
}

// Verify tries every candidate against the artifact's SHA-256 and the
// policy, and combines the outcomes with decide: the first accepted
// candidate wins; otherwise a rejected one is a failure (class ErrFailed;
// reasons "signature-invalid", "identity-mismatch",
// "subject-mismatch", "predicate-mismatch") and Result.Checks describe the
// closest attempt: which field mismatched, expected and actual; otherwise
// nothing usable was found: class ErrInconclusive with the reason of the
// most telling unusable candidate (e.g. "bundle-url-unavailable", or
// "bundle-invalid" for a bundle that cannot be parsed or is structurally
// invalid) or ReasonNotWorkflowSigner. No candidates is inconclusive
// ("bundle-missing"); an invalid policy is a usage error.
func Verify(ctx context.Context, tm root.TrustedMaterial, cands []Candidate, artifactSHA256 []byte, p Policy) (Result, error) {
	cp, err := p.compile()
	if err != nil {
		return Result{}, err
	}
	if tm == nil {
		return Result{}, verdict.New(verdict.ErrInconclusive, "trusted-root-unavailable", errNoTrustedMaterial)
	}
	if len(artifactSHA256) != 32 {
		return Result{}, verdict.Usagef("digest-invalid", "the artifact digest must be 32 bytes of SHA-256, got %d bytes", len(artifactSHA256))
	}
	if len(cands) == 0 {
		return Result{}, verdict.Inconclusivef("bundle-missing", "no Sigstore bundle was found to verify")
	}
	if len(cands) > MaxCandidates {
		return Result{}, verdict.Inconclusivef("too-many-bundles", "%d Sigstore bundles found, more than the %d this tool tries; pass the bundle explicitly", len(cands), MaxCandidates)
	}
	v, err := newVerifier(tm, cp)
	if err != nil {
		return Result{}, verdict.Inconclusivef("verifier-error", "cannot set up the Sigstore verifier: %v", err)
	}
	attempts := make([]attempt, 0, len(cands))
	results := make([]CandidateResult, 0, len(cands))
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return Result{Candidates: results}, verdict.Inconclusivef("timeout", "signature verification stopped: %v", err)
		}
		var a attempt
		if c.Err != nil {
			a = attempt{name: c.Name, err: c.Err, unusable: true}
		} else {
			a = v.try(c, artifactSHA256, cp)
			a.checks = append(a.checks, v.notes...)
		}
		attempts = append(attempts, a)
		results = append(results, a.result(c))
	}
	d := decide(results)
	if d.winner >= 0 {
		a := attempts[d.winner]
		return Result{Signer: a.signer, Checks: a.checks, Candidates: results}, nil
	}
	best := attempts[d.pick]
	if d.class == verdict.ErrFailed {
		if len(cands) == 1 {
			return Result{Checks: best.checks, Candidates: results}, verdict.Failedf(d.reason, "bundle %s: %v", best.name, best.err)
		}
		return Result{Checks: best.checks, Candidates: results}, verdict.Failedf(d.reason, "none of %d bundles verified%s; closest, %s: %v",
			len(cands), unreadNote(results), best.name, best.err)
	}
	if len(cands) == 1 {
		return Result{Candidates: results}, verdict.Inconclusivef(d.reason, "bundle %s: %s", best.name, results[d.pick].Message)
	}
	return Result{Candidates: results}, verdict.Inconclusivef(d.reason, "none of %d bundles could be used; %s: %s",
		len(cands), best.name, results[d.pick].Message)
}

// unreadNote mentions candidates that could not be examined next to a failure.
func unreadNote(rs []CandidateResult) string {
	n := 0
	for _, r := range rs {
		if r.Outcome == OutcomeUnusable {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d could not be read)", n)
}

// result summarises an attempt for the report.
func (a *attempt) result(c Candidate) CandidateResult {
	r := CandidateResult{Name: c.Name, Origin: c.Origin, score: a.score, Signer: a.claimedSAN}
	switch {
	case a.err == nil:
		r.Outcome, r.Signer, r.SignerVerified = OutcomeAccepted, a.signer.SAN, true
		r.Message = "verified for the artifact's digest and the expected signer"
		if a.signer.KeyHint != "" || (a.signer.SAN == "" && a.signer.Kind != "") {
			r.Message = "verified for the artifact's digest and the given key"
		}
		return r
	case a.notApplicable:
		r.Outcome = OutcomeNotApplicable
	case a.unusable || (a.score == 0 && c.Listed):
		r.Outcome = OutcomeUnusable
	default:
		r.Outcome = OutcomeRejected
		r.SignerVerified = a.score == 2 && r.Signer != ""
	}
	r.Reason = verdict.ReasonOf(a.err)
	r.Message = a.err.Error()
	return r
}

type verifier struct {
	v        *verify.Verifier
	identity verify.PolicyOption // strict identity option
	diagID   verify.PolicyOption // crypto-only option, for diagnosis
	notes    []verdict.Check     // requirements the trusted root cannot support, said out loud
}

// verifierOptions are the strictest options the trusted material supports.
// The public-good root lists transparency logs and CT logs, so a Rekor entry
// and an embedded SCT are required. A GitHub-instance root (private
// repositories) has neither: its bundles carry RFC 3161 timestamps from
// GitHub's TSA instead, which are then required, and the report says which
// requirement was replaced.
func verifierOptions(tm root.TrustedMaterial, withCert bool) ([]verify.VerifierOption, []verdict.Check) {
	var opts []verify.VerifierOption
	var notes []verdict.Check
	if len(tm.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	} else {
		opts = append(opts, verify.WithSignedTimestamps(1))
		notes = append(notes, verdict.Check{ID: "transparency-log", Title: "Transparency log entry", Status: verdict.StatusSkipped,
			Message: "the trusted root lists no transparency log (a GitHub-instance root, say): an RFC 3161 timestamp from its timestamp authority was required instead"})
	}
	if withCert {
		if len(tm.CTLogs()) > 0 {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		} else {
			notes = append(notes, verdict.Check{ID: "certificate-transparency", Title: "Certificate transparency (SCT)", Status: verdict.StatusSkipped,
				Message: "the trusted root lists no CT log, so no signed certificate timestamp could be required"})
		}
	}
	return opts, notes
}

func newVerifier(tm root.TrustedMaterial, cp *compiled) (*verifier, error) {
	if cp.key != nil {
		sv, err := signature.LoadDefaultVerifier(cp.key)
		if err != nil {
			return nil, err
		}
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		// The user's key comes first so that nothing else can answer for it.
		keyTM := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		opts, notes := verifierOptions(tm, false)
		v, err := verify.NewVerifier(root.TrustedMaterialCollection{keyTM, tm}, opts...)
		if err != nil {
			return nil, err
		}
		return &verifier{v: v, identity: verify.WithKey(), diagID: verify.WithKey(), notes: notes}, nil
	}
	re := ""
	if cp.sanRE != nil {
		re = cp.sanRE.String()
	}
	san, err := verify.NewSANMatcher(cp.SAN, re)
	if err != nil {
		return nil, err
	}
	iss, err := verify.NewIssuerMatcher(cp.Issuer, "")
	if err != nil {
		return nil, err
	}
	id, err := verify.NewCertificateIdentity(san, iss, certificate.Extensions{
		BuildSignerURI:         cp.BuildSignerURI,
		BuildSignerDigest:      cp.BuildSignerDigest,
		RunnerEnvironment:      cp.RunnerEnvironment,
		SourceRepositoryURI:    cp.SourceRepositoryURI,
		SourceRepositoryDigest: cp.SourceRepositoryDigest,
		SourceRepositoryRef:    cp.SourceRepositoryRef,
	})
	if err != nil {
		return nil, err
	}
	opts, notes := verifierOptions(tm, true)
	v, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		return nil, err
	}
	return &verifier{v: v, identity: verify.WithCertificateIdentity(id), diagID: verify.WithoutIdentitiesUnsafe(), notes: notes}, nil
}

type attempt struct {
	name   string
	checks []verdict.Check
	err    error
	score  int // 0 unparseable, 1 crypto failed, 2 crypto verified
	signer Signer
	// unusable: the candidate came with an error (never tried);
	// notApplicable: set aside as GitHub's release attestation.
	unusable, notApplicable bool
	// claimedSAN is the leaf certificate's SAN as the bundle claims it
	// (verified only when score is 2).
	claimedSAN string
}

func (a *attempt) add(c verdict.Check) {
	c.Subject = a.name
	a.checks = append(a.checks, c)
}

func (a *attempt) pass(id, title, expected, actual, msg string) {
	a.add(verdict.Check{ID: id, Title: title, Status: verdict.StatusPass, Expected: expected, Actual: actual, Message: msg})
}

func (a *attempt) fail(id, title, reason, expected, actual, msg string) {
	a.add(verdict.Check{ID: id, Title: title, Status: verdict.StatusFail, Reason: reason, Expected: expected, Actual: actual, Message: msg})
	if a.err == nil {
		if msg == "" {
			msg = fmt.Sprintf("%s: expected %q, got %q", title, expected, actual)
		}
		a.err = verdict.Failedf(reason, "%s", msg)
	}
}

// invalid marks a bundle that cannot be read (not JSON, not a Sigstore
// bundle, structurally incomplete, too large): nothing was verified, so it
// is "could not verify" (bundle-invalid), never a failure. Only a
// well-formed bundle whose verification fails proves anything.
func (a *attempt) invalid(msg string) {
	a.add(verdict.Check{ID: "bundle", Title: "Sigstore bundle", Status: verdict.StatusError, Reason: "bundle-invalid", Message: msg})
	a.unusable = true
	a.err = verdict.Inconclusivef("bundle-invalid", "%s", msg)
}

func (v *verifier) try(c Candidate, digest []byte, cp *compiled) attempt {
	a := attempt{name: c.Name}
	if len(c.JSON) > MaxBundleSize {
		a.invalid(fmt.Sprintf("bundle is %d bytes, larger than the %d allowed", len(c.JSON), MaxBundleSize))
		return a
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(c.JSON); err != nil {
		a.invalid("not a valid Sigstore bundle: " + err.Error())
		return a
	}
	kind := KindMessageSignature
	if b.Bundle.GetDsseEnvelope() != nil {
		kind = KindDSSE
	}
	vc, err := b.VerificationContent()
	if err != nil {
		a.invalid("bundle verification material: " + err.Error())
		return a
	}
	entries, err := b.TlogEntries() // parsed once already by UnmarshalJSON's validation: cannot fail here
	if err != nil {
		a.invalid("bundle transparency log entries: " + err.Error())
		return a
	}
	pb := &parsedBundle{Bundle: &b, entries: entries, vc: vc}
	if cert := vc.Certificate(); cert != nil {
		a.claimedSAN = sanOf(cert)
		if c.Listed && cp.github {
			if na, san, msg := notWorkflowSigner(&b, cert); na {
				a.notApplicable, a.claimedSAN = true, san
				a.err = verdict.Inconclusivef(ReasonNotWorkflowSigner, "%s", msg)
				return a
			}
		}
	}
	a.pass("bundle", "Sigstore bundle", "", kind, "")
	a.score = 1
	hasCert := vc.Certificate() != nil
	switch {
	case cp.key != nil && hasCert:
		a.fail("identity.key", "Signing key", "identity-mismatch", "the given public key", "a Fulcio certificate",
			"bundle is signed with a certificate, but a managed public key was expected")
		return a
	case cp.key == nil && !hasCert:
		a.fail("identity.san", "Certificate identity (SAN)", "identity-mismatch", cp.describe(), "no certificate (signed with a key)",
			"bundle is signed with a bare key, not a Fulcio certificate identity")
		return a
	}

	res, strictErr := v.v.Verify(pb, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), v.identity))
	strict := strictErr == nil
	var claimed []byte // message signature: the digest the crypto was checked against
	if strict {
		claimed = digest
	} else {
		// Diagnose: is the crypto sound at all? Never report verified from here.
		var art verify.ArtifactPolicyOption
		if kind == KindDSSE {
			art = verify.WithoutArtifactUnsafe()
		} else if md := b.Bundle.GetMessageSignature().GetMessageDigest(); md != nil &&
			md.GetAlgorithm() == protocommon.HashAlgorithm_SHA2_256 && len(md.GetDigest()) == 32 {
			claimed = md.GetDigest()
			art = verify.WithArtifactDigest("sha256", claimed)
		}
		var derr error
		if art != nil {
			res, derr = v.v.Verify(pb, verify.NewPolicy(art, v.diagID))
		}
		if art == nil || derr != nil {
			a.fail("signature", "Sigstore signature", "signature-invalid", "", "",
				"signature, certificate chain or transparency log did not verify against the trusted root: "+strictErr.Error())
			return a
		}
	}
	a.score = 2
	a.pass("signature", "Sigstore signature", "", "",
		"signature, certificate chain, transparency log and timestamps verified against the trusted root")

	var st *statement
	if kind == KindMessageSignature {
		if bytes.Equal(claimed, digest) {
			a.pass("subject", "Signed digest", "sha256:"+hex.EncodeToString(digest), "sha256:"+hex.EncodeToString(claimed), "")
		} else {
			a.fail("subject", "Signed digest", "subject-mismatch", "sha256:"+hex.EncodeToString(digest), "sha256:"+hex.EncodeToString(claimed),
				"the bundle signs another file: signed digest sha256:"+hex.EncodeToString(claimed)+", artifact sha256:"+hex.EncodeToString(digest))
		}
	} else {
		st = a.checkStatement(b.Bundle.GetDsseEnvelope().GetPayloadType(), b.Bundle.GetDsseEnvelope().GetPayload(), digest, cp)
	}

	var sum *certificate.Summary
	if res.Signature != nil {
		sum = res.Signature.Certificate
	}
	if cp.key != nil {
		hint := ""
		if res.Signature != nil && res.Signature.PublicKeyID != nil {
			hint = string(*res.Signature.PublicKeyID)
		}
		a.pass("identity.key", "Signing key", "the given public key", hint, "")
		a.signer.KeyHint = hint
	} else if sum == nil {
		a.fail("identity.san", "Certificate identity (SAN)", "identity-mismatch", cp.describe(), "", "verified bundle has no certificate summary")
	} else {
		a.checkIdentity(sum, cp)
	}

	if a.err == nil && !strict {
		// Our comparisons found nothing but sigstore-go refused: fail closed.
		a.fail("signature", "Sigstore verification", "signature-invalid", "", "", "sigstore-go rejected the bundle: "+strictErr.Error())
	}
	if a.err != nil {
		return a
	}
	a.signer.Bundle, a.signer.Kind = c.Name, kind
	if sum != nil {
		a.signer.SAN = sum.SubjectAlternativeName
		a.signer.Issuer = sum.Extensions.Issuer
		a.signer.Workflow = sum.BuildSignerURI
		a.signer.Repository = sum.SourceRepositoryURI
		a.signer.Ref = sum.SourceRepositoryRef
		a.signer.Commit = sum.SourceRepositoryDigest
		a.signer.RunnerEnvironment = sum.RunnerEnvironment
		a.signer.Trigger = sum.BuildTrigger
		a.signer.RunURL = sum.RunInvocationURI
	}
	if len(entries) > 0 {
		a.signer.LogIndex = entries[0].LogIndex()
		a.signer.LogID = hex.EncodeToString([]byte(entries[0].LogKeyID()))
		a.signer.IntegratedTime = entries[0].IntegratedTime()
	}
	for _, ts := range res.VerifiedTimestamps {
		a.signer.Timestamps = append(a.signer.Timestamps, ts.Timestamp)
	}
	if st != nil {
		a.signer.PredicateType = st.PredicateType
	}
	return a
}

// sanOf is the first URI or e-mail SAN of a certificate ("" when none).
func sanOf(cert *x509.Certificate) string {
	if sum, err := certificate.SummarizeCertificate(cert); err == nil {
		return sum.SubjectAlternativeName
	}
	return ""
}

// checkIdentity compares every expected field with the verified certificate.
func (a *attempt) checkIdentity(s *certificate.Summary, cp *compiled) {
	const reason = "identity-mismatch"
	if cp.sanRE != nil {
		if cp.sanRE.MatchString(s.SubjectAlternativeName) {
			a.pass("identity.san", "Certificate identity (SAN)", cp.sanRE.String(), s.SubjectAlternativeName, "")
		} else {
			a.fail("identity.san", "Certificate identity (SAN)", reason, cp.sanRE.String(), s.SubjectAlternativeName,
				fmt.Sprintf("certificate SAN %q does not match the expected regexp %s", s.SubjectAlternativeName, cp.sanRE))
		}
	} else {
		a.exact("identity.san", "Certificate identity (SAN)", cp.SAN, s.SubjectAlternativeName)
	}
	a.exact("identity.issuer", "OIDC issuer", cp.Issuer, s.Extensions.Issuer)
	fields := []struct{ id, title, exp, act string }{
		{"identity.source-repository-uri", "Source repository", cp.SourceRepositoryURI, s.SourceRepositoryURI},
		{"identity.source-repository-ref", "Source ref", cp.SourceRepositoryRef, s.SourceRepositoryRef},
		{"identity.source-repository-digest", "Source commit", cp.SourceRepositoryDigest, s.SourceRepositoryDigest},
		{"identity.build-signer-uri", "Build signer (workflow)", cp.BuildSignerURI, s.BuildSignerURI},
		{"identity.build-signer-digest", "Build signer digest", cp.BuildSignerDigest, s.BuildSignerDigest},
		{"identity.runner-environment", "Runner environment", cp.RunnerEnvironment, s.RunnerEnvironment},
	}
	for _, f := range fields {
		switch {
		case f.exp != "":
			a.exact(f.id, f.title, f.exp, f.act)
		case f.id == "identity.runner-environment" && cp.github && cp.AllowSelfHosted:
			a.add(verdict.Check{ID: f.id, Title: f.title, Status: verdict.StatusSkipped, Actual: f.act, Message: "self-hosted runners allowed"})
		}
	}
	if cp.github {
		a.checkTrigger(s, cp.triggers)
	}
}

// checkTrigger requires the event the signing run was triggered by (the
// certificate's Build Trigger, OID 1.3.6.1.4.1.57264.1.20, or the older
// GitHub Workflow Trigger, 1.3.6.1.4.1.57264.1.2, when it is the only one)
// to be one of the accepted triggers. A certificate that names none fails:
// the policy cannot be checked.
func (a *attempt) checkTrigger(s *certificate.Summary, accepted []string) {
	const id, title = "identity.build-trigger", "Build trigger"
	act := s.BuildTrigger
	if act == "" {
		act = s.Extensions.GithubWorkflowTrigger
	}
	exp := strings.Join(accepted, ", ")
	if slices.Contains(accepted, act) {
		a.pass(id, title, exp, act, "")
		return
	}
	msg := fmt.Sprintf("Build trigger (certificate extension BuildTrigger, OID 1.3.6.1.4.1.57264.1.20) is %q; accepted: %s (--signer-trigger)", act, exp)
	if strings.HasPrefix(act, "pull_request") {
		msg += "; a run for a pull request builds code from the pull request, so its signature does not vouch for the release"
	}
	a.fail(id, title, "identity-mismatch", exp, act, msg)
}

func (a *attempt) exact(id, title, exp, act string) {
	if exp == act {
		a.pass(id, title, exp, act, "")
		return
	}
	a.fail(id, title, "identity-mismatch", exp, act, fmt.Sprintf("%s mismatch: expected %q, certificate has %q", title, exp, act))
}
