package sigstorekit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/mail"
	"net/url"
	"strings"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/lukium/kms-verify-action/internal/wellknown"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

const cryptoSHA256 = crypto.SHA256

var (
	// oidCTPoison marks a precertificate (RFC 6962 section 3.1).
	oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	// oidSCTList holds embedded SCTs (RFC 6962 section 3.3).
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	// oidEKU is the extended key usage extension.
	oidEKU = asn1.ObjectIdentifier{2, 5, 29, 37}
	// oidEKUTimeStamping is id-kp-timeStamping.
	oidEKUTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// Identity is the OIDC identity a Fulcio-like leaf certificate is issued for.
type Identity struct {
	// SAN is the subject alternative name: a URI (anything with "://"), or
	// an e-mail address otherwise.
	SAN string
	// Issuer is the OIDC issuer (default wellknown.GitHubActionsIssuer). It is written to the
	// issuer extensions 1.3.6.1.4.1.57264.1.8 (DER UTF8String) and .1.1 (raw).
	Issuer string
	// Ext holds the Fulcio extensions; empty fields are omitted from the
	// certificate. Ext.Issuer is ignored in favour of Issuer.
	Ext certificate.Extensions
}

// issuer returns the identity's effective OIDC issuer.
func (id Identity) issuer() string {
	if id.Issuer != "" {
		return id.Issuer
	}
	if id.Ext.Issuer != "" {
		return id.Ext.Issuer
	}
	return wellknown.GitHubActionsIssuer
}

// Extensions returns the extensions a verifier will parse from a certificate
// issued for id (Ext with the effective issuer filled in).
func (id Identity) Extensions() certificate.Extensions {
	ext := id.Ext
	ext.Issuer = id.issuer()
	return ext
}

func (a *Authority) nextSerial() *big.Int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.serial++
	// Random high bits keep serials unique across Authorities, like real CAs.
	r, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		r = big.NewInt(0)
	}
	return r.Lsh(r, 20).Add(r, big.NewInt(a.serial))
}

func (a *Authority) initFulcio() error {
	rootKey, err := newKey()
	if err != nil {
		return err
	}
	a.fulcioKey, err = newKey()
	if err != nil {
		return err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          a.nextSerial(),
		Subject:               pkix.Name{CommonName: "sigstorekit", Organization: []string{"sigstorekit.invalid"}},
		NotBefore:             a.validFrom,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	if a.fulcioRoot, err = createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey); err != nil {
		return err
	}
	intTmpl := &x509.Certificate{
		SerialNumber:          a.nextSerial(),
		Subject:               pkix.Name{CommonName: "sigstorekit-intermediate", Organization: []string{"sigstorekit.invalid"}},
		NotBefore:             a.validFrom,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	a.fulcioInt, err = createCert(intTmpl, a.fulcioRoot, &a.fulcioKey.PublicKey, rootKey)
	return err
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: parse certificate: %w", err)
	}
	return cert, nil
}

// derUTF8 encodes s as a DER UTF8String, as Fulcio does for its v2 extensions.
func derUTF8(s string) ([]byte, error) {
	b, err := asn1.MarshalWithParams(s, "utf8")
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: encode extension: %w", err)
	}
	return b, nil
}

// fulcioExtensions renders id's extensions in Fulcio's order.
func fulcioExtensions(id Identity) ([]pkix.Extension, error) {
	ext := id.Extensions()
	var out []pkix.Extension
	raw := func(oid asn1.ObjectIdentifier, v string) {
		if v != "" {
			out = append(out, pkix.Extension{Id: oid, Value: []byte(v)})
		}
	}
	raw(certificate.OIDIssuer, ext.Issuer)
	raw(certificate.OIDGitHubWorkflowTrigger, ext.GithubWorkflowTrigger)
	raw(certificate.OIDGitHubWorkflowSHA, ext.GithubWorkflowSHA)
	raw(certificate.OIDGitHubWorkflowName, ext.GithubWorkflowName)
	raw(certificate.OIDGitHubWorkflowRepository, ext.GithubWorkflowRepository)
	raw(certificate.OIDGitHubWorkflowRef, ext.GithubWorkflowRef)
	for _, e := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{
		{certificate.OIDIssuerV2, ext.Issuer},
		{certificate.OIDBuildSignerURI, ext.BuildSignerURI},
		{certificate.OIDBuildSignerDigest, ext.BuildSignerDigest},
		{certificate.OIDRunnerEnvironment, ext.RunnerEnvironment},
		{certificate.OIDSourceRepositoryURI, ext.SourceRepositoryURI},
		{certificate.OIDSourceRepositoryDigest, ext.SourceRepositoryDigest},
		{certificate.OIDSourceRepositoryRef, ext.SourceRepositoryRef},
		{certificate.OIDSourceRepositoryIdentifier, ext.SourceRepositoryIdentifier},
		{certificate.OIDSourceRepositoryOwnerURI, ext.SourceRepositoryOwnerURI},
		{certificate.OIDSourceRepositoryOwnerIdentifier, ext.SourceRepositoryOwnerIdentifier},
		{certificate.OIDBuildConfigURI, ext.BuildConfigURI},
		{certificate.OIDBuildConfigDigest, ext.BuildConfigDigest},
		{certificate.OIDBuildTrigger, ext.BuildTrigger},
		{certificate.OIDRunInvocationURI, ext.RunInvocationURI},
		{certificate.OIDSourceRepositoryVisibilityAtSigning, ext.SourceRepositoryVisibilityAtSigning},
	} {
		if e.v == "" {
			continue
		}
		v, err := derUTF8(e.v)
		if err != nil {
			return nil, err
		}
		out = append(out, pkix.Extension{Id: e.oid, Value: v})
	}
	return out, nil
}

// issueLeaf issues a Fulcio-like leaf certificate for id and pub, valid for
// leafValidity from t, with an SCT from the kit's CT log embedded (unless
// withoutSCT).
func (a *Authority) issueLeaf(id Identity, pub *ecdsa.PublicKey, t time.Time, withoutSCT bool) (*x509.Certificate, error) {
	exts, err := fulcioExtensions(id)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   a.nextSerial(),
		NotBefore:      t,
		NotAfter:       t.Add(leafValidity),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		SubjectKeyId:   subjectKeyID(pub),
		AuthorityKeyId: a.fulcioInt.SubjectKeyId,
	}
	switch {
	case strings.Contains(id.SAN, "://"):
		u, err := url.Parse(id.SAN)
		if err != nil {
			return nil, fmt.Errorf("sigstorekit: SAN %q is not a URI: %w", id.SAN, err)
		}
		tmpl.URIs = []*url.URL{u}
	case id.SAN != "":
		if _, err := mail.ParseAddress(id.SAN); err != nil {
			return nil, fmt.Errorf("sigstorekit: SAN %q is neither a URI nor an e-mail address", id.SAN)
		}
		tmpl.EmailAddresses = []string{id.SAN}
	default:
		return nil, fmt.Errorf("sigstorekit: identity has no SAN")
	}
	if withoutSCT {
		tmpl.ExtraExtensions = exts
		return createCert(tmpl, a.fulcioInt, pub, a.fulcioKey)
	}

	// 1. Precertificate: same TBS plus the critical poison extension.
	poison := pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes}
	tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), poison)
	pre, err := createCert(tmpl, a.fulcioInt, pub, a.fulcioKey)
	if err != nil {
		return nil, err
	}
	// 2. SCT over the precertificate entry, as a CT log would issue it.
	sct, err := a.signSCT(pre, t)
	if err != nil {
		return nil, err
	}
	list, err := x509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{sct})
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SCT list: %w", err)
	}
	listTLS, err := cttls.Marshal(*list)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SCT list: %w", err)
	}
	listDER, err := asn1.Marshal(listTLS)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SCT list: %w", err)
	}
	// 3. Final certificate: the poison swapped for the SCT list, in the same slot.
	tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: oidSCTList, Value: listDER})
	return createCert(tmpl, a.fulcioInt, pub, a.fulcioKey)
}

// signSCT signs an RFC 6962 v1 SCT for the precertificate pre at time t.
func (a *Authority) signSCT(pre *x509.Certificate, t time.Time) (*ct.SignedCertificateTimestamp, error) {
	tbs, err := ctx509.BuildPrecertTBS(pre.RawTBSCertificate, nil)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: precert TBS: %w", err)
	}
	id, err := logID(&a.ctKey.PublicKey)
	if err != nil {
		return nil, err
	}
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		Timestamp:  uint64(t.UnixMilli()), //nolint:gosec // times after 1970
	}
	copy(sct.LogID.KeyID[:], id)
	entry := ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version:  ct.V1,
		LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			Timestamp: sct.Timestamp,
			EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{
				IssuerKeyHash:  sha256.Sum256(a.fulcioInt.RawSubjectPublicKeyInfo),
				TBSCertificate: tbs,
			},
		},
	}}
	input, err := ct.SerializeSCTSignatureInput(sct, entry)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SCT input: %w", err)
	}
	digest := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, a.ctKey, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: sign SCT: %w", err)
	}
	sct.Signature = ct.DigitallySigned{
		Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
		Signature: sig,
	}
	return &sct, nil
}

// subjectKeyID is the RFC 5280 method-1 style key identifier of pub.
func subjectKeyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// initTSA creates the timestamp authority's root, intermediate and leaf.
func (a *Authority) initTSA() error {
	rootKey, err := newKey()
	if err != nil {
		return err
	}
	intKey, err := newKey()
	if err != nil {
		return err
	}
	if a.tsaKey, err = newKey(); err != nil {
		return err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          a.nextSerial(),
		Subject:               pkix.Name{CommonName: "sigstorekit-tsa", Organization: []string{"sigstorekit.invalid"}},
		NotBefore:             a.validFrom,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if a.tsaRoot, err = createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey); err != nil {
		return err
	}
	intTmpl := &x509.Certificate{
		SerialNumber:          a.nextSerial(),
		Subject:               pkix.Name{CommonName: "sigstorekit-tsa-intermediate", Organization: []string{"sigstorekit.invalid"}},
		NotBefore:             a.validFrom,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if a.tsaInt, err = createCert(intTmpl, a.tsaRoot, &intKey.PublicKey, rootKey); err != nil {
		return err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidEKUTimeStamping})
	if err != nil {
		return fmt.Errorf("sigstorekit: TSA EKU: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: a.nextSerial(),
		Subject:      pkix.Name{CommonName: "sigstorekit-tsa-leaf", Organization: []string{"sigstorekit.invalid"}},
		NotBefore:    a.validFrom,
		NotAfter:     caNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// RFC 3161 requires the timeStamping EKU to be the only one, and critical.
		ExtraExtensions: []pkix.Extension{{Id: oidEKU, Critical: true, Value: eku}},
	}
	a.tsaLeaf, err = createCert(leafTmpl, a.tsaInt, &a.tsaKey.PublicKey, intKey)
	return err
}
