// Package sigstorekit mints realistic Sigstore material entirely offline, for
// tests and demos: a Fulcio-like certificate authority that issues GitHub
// Actions identities with embedded SCTs, a CT log, a Rekor log with signed
// checkpoints and consistent inclusion proofs, an optional RFC 3161 timestamp
// authority, and the trusted_root.json that ties them together.
//
// Bundles produced here are accepted by sigstore-go's verifier (pkg/verify)
// with the strictest policy (transparency log, SCT and integrated or signed
// timestamps) and carry the same certificate extensions real Fulcio
// certificates carry for GitHub Actions workflows. Every Authority is an
// unrelated trust domain: bundles from one never verify against another's root.
//
// The package is test support: it is not hardened and must never be used to
// produce material anyone should trust.
package sigstorekit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Media types and well-known values used by the kit.
const (
	// BundleMediaType is the media type of every bundle the kit produces.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// TrustedRootMediaType is the media type of the trusted root the kit produces.
	TrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"

	// FulcioURI, RekorURL, CTLogURL and TSAURI name the kit's services in the trusted root.
	FulcioURI = "https://fulcio.sigstorekit.invalid"
	// RekorURL is the base URL of the kit's Rekor log.
	RekorURL = "https://rekor.sigstorekit.invalid"
	// CTLogURL is the base URL of the kit's CT log.
	CTLogURL = "https://ctfe.sigstorekit.invalid/test"
	// TSAURI is the URI of the kit's timestamp authority.
	TSAURI = "https://tsa.sigstorekit.invalid/api/v1/timestamp"

	// rekorHostname is the checkpoint origin host (Rekor v1 style "host - treeID").
	rekorHostname = "rekor.sigstorekit.invalid"
	// leafValidity is how long a Fulcio-like leaf certificate is valid.
	leafValidity = 10 * time.Minute
)

var (
	// DefaultTime is the signing time used when no WithTime or WithSigningTime is given.
	DefaultTime = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
	// trustStart is when every kit key and certificate becomes valid (unless
	// WithTime asks for something earlier).
	trustStart = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)
	// caNotAfter is when the kit's CA certificates stop being valid.
	caNotAfter = time.Date(2124, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// ErrNoTSA is returned by WithTimestamp signing when the Authority was built without WithTSA.
var ErrNoTSA = errors.New("sigstorekit: WithTimestamp needs an Authority created WithTSA()")

// Option configures New.
type Option func(*config)

type config struct {
	tsa  bool
	now  time.Time
	tree int64
}

// WithTSA adds an RFC 3161 timestamp authority to the Authority and its trusted root.
func WithTSA() Option { return func(c *config) { c.tsa = true } }

// WithTime sets the default signing time of the Authority (default DefaultTime).
// Keys and CA certificates are valid from 2020-01-01 (or a year before t if
// that is earlier) with no end in the trusted root.
func WithTime(t time.Time) Option { return func(c *config) { c.now = t.UTC() } }

// WithTreeID sets the numeric Rekor tree ID shown in checkpoint origins
// (default: random per Authority).
func WithTreeID(id int64) Option { return func(c *config) { c.tree = id } }

// Authority is one in-memory Sigstore instance: Fulcio CA, CT log, Rekor log,
// optional TSA and a managed signing key. It is safe for concurrent use.
type Authority struct {
	now        time.Time
	validFrom  time.Time
	fulcioRoot *x509.Certificate
	fulcioInt  *x509.Certificate
	fulcioKey  *ecdsa.PrivateKey // intermediate's key, issues leaves
	ctKey      *ecdsa.PrivateKey
	rekorKey   *ecdsa.PrivateKey
	treeID     int64

	tsaRoot *x509.Certificate
	tsaInt  *x509.Certificate
	tsaLeaf *x509.Certificate
	tsaKey  *ecdsa.PrivateKey

	managedKey *ecdsa.PrivateKey

	mu     sync.Mutex
	leaves [][]byte // RFC 6962 leaf hashes of every Rekor entry so far (genesis first)
	serial int64
}

// New creates a fresh Authority with newly generated keys.
func New(opts ...Option) (*Authority, error) {
	cfg := config{now: DefaultTime}
	for _, o := range opts {
		o(&cfg)
	}
	a := &Authority{now: cfg.now.Truncate(time.Second), validFrom: trustStart, treeID: cfg.tree}
	if earliest := a.now.AddDate(-1, 0, 0); earliest.Before(a.validFrom) {
		a.validFrom = earliest
	}
	if a.treeID == 0 {
		n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
		if err != nil {
			return nil, fmt.Errorf("sigstorekit: tree id: %w", err)
		}
		a.treeID = n.Int64() + 1
	}
	// The log starts with one genesis leaf, so every real entry has a
	// non-zero log index (proto3 JSON omits zeros) and a non-empty proof.
	a.leaves = [][]byte{rfc6962.DefaultHasher.HashLeaf(fmt.Appendf(nil, "sigstorekit genesis %d", a.treeID))}
	var err error
	keys := []**ecdsa.PrivateKey{&a.ctKey, &a.rekorKey, &a.managedKey}
	for _, k := range keys {
		if *k, err = newKey(); err != nil {
			return nil, err
		}
	}
	if err := a.initFulcio(); err != nil {
		return nil, err
	}
	if cfg.tsa {
		if err := a.initTSA(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: generate key: %w", err)
	}
	return k, nil
}

// ManagedKeyPEM returns the PEM ("PUBLIC KEY") of the managed key SignWithKey uses.
func (a *Authority) ManagedKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&a.managedKey.PublicKey)
	if err != nil { // cannot happen for a P-256 key
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ManagedKeyHint returns the public-key hint SignWithKey puts into bundles:
// the hex SHA-256 of the key's PKIX DER.
func (a *Authority) ManagedKeyHint() string {
	der, err := x509.MarshalPKIXPublicKey(&a.managedKey.PublicKey)
	if err != nil {
		panic(err)
	}
	return keyHash(der)
}

// keyHash is the hex SHA-256 of a DER public key (the Sigstore log ID form).
func keyHash(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func logID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// trustedRootProto builds the protobuf-specs TrustedRoot for the Authority.
func (a *Authority) trustedRootProto() (*prototrustroot.TrustedRoot, error) {
	start := timestamppb.New(a.validFrom)
	tlog := func(pub *ecdsa.PublicKey, url string) (*prototrustroot.TransparencyLogInstance, error) {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("sigstorekit: marshal log key: %w", err)
		}
		id := sha256.Sum256(der)
		return &prototrustroot.TransparencyLogInstance{
			BaseUrl:       url,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   der,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor:   &protocommon.TimeRange{Start: start},
			},
			LogId: &protocommon.LogId{KeyId: id[:]},
		}, nil
	}
	rekor, err := tlog(&a.rekorKey.PublicKey, RekorURL)
	if err != nil {
		return nil, err
	}
	ctlog, err := tlog(&a.ctKey.PublicKey, CTLogURL)
	if err != nil {
		return nil, err
	}
	chain := func(certs ...*x509.Certificate) *protocommon.X509CertificateChain {
		c := &protocommon.X509CertificateChain{}
		for _, cert := range certs {
			c.Certificates = append(c.Certificates, &protocommon.X509Certificate{RawBytes: cert.Raw})
		}
		return c
	}
	tr := &prototrustroot.TrustedRoot{
		MediaType: TrustedRootMediaType,
		Tlogs:     []*prototrustroot.TransparencyLogInstance{rekor},
		Ctlogs:    []*prototrustroot.TransparencyLogInstance{ctlog},
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject: &protocommon.DistinguishedName{
				Organization: a.fulcioRoot.Subject.Organization[0],
				CommonName:   a.fulcioRoot.Subject.CommonName,
			},
			Uri:       FulcioURI,
			CertChain: chain(a.fulcioInt, a.fulcioRoot),
			ValidFor:  &protocommon.TimeRange{Start: start},
		}},
	}
	if a.tsaLeaf != nil {
		tr.TimestampAuthorities = []*prototrustroot.CertificateAuthority{{
			Subject: &protocommon.DistinguishedName{
				Organization: a.tsaRoot.Subject.Organization[0],
				CommonName:   a.tsaRoot.Subject.CommonName,
			},
			Uri:       TSAURI,
			CertChain: chain(a.tsaLeaf, a.tsaInt, a.tsaRoot),
			ValidFor:  &protocommon.TimeRange{Start: start},
		}}
	}
	return tr, nil
}

// TrustedRootJSON returns the Authority's trusted_root.json (protobuf-specs
// TrustedRoot, media type TrustedRootMediaType) listing the CA, the Rekor
// log, the CT log and, when present, the TSA. The managed key of SignWithKey
// is not part of it (trusted roots cannot carry keys); see TrustedMaterial.
func (a *Authority) TrustedRootJSON() ([]byte, error) {
	tr, err := a.trustedRootProto()
	if err != nil {
		return nil, err
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: marshal trusted root: %w", err)
	}
	return out, nil
}

// TrustedMaterial returns the trusted root parsed by sigstore-go, plus the
// Authority's managed key (looked up by ManagedKeyHint) for SignWithKey bundles.
func (a *Authority) TrustedMaterial() (root.TrustedMaterial, error) {
	js, err := a.TrustedRootJSON()
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRootFromJSON(js)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: parse own trusted root: %w", err)
	}
	keys, err := a.KeyTrustedMaterial()
	if err != nil {
		return nil, err
	}
	return root.TrustedMaterialCollection{tr, keys}, nil
}

// KeyTrustedMaterial returns trusted material holding only the managed key
// (valid from the kit's trust start with no end), keyed by ManagedKeyHint.
func (a *Authority) KeyTrustedMaterial() (root.TrustedMaterial, error) {
	v, err := signature.LoadECDSAVerifier(&a.managedKey.PublicKey, cryptoSHA256)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: managed key verifier: %w", err)
	}
	return root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		a.ManagedKeyHint(): root.NewExpiringKey(v, a.validFrom, time.Time{}),
	}), nil
}
