package sigstorekit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/lukium/kms-verify-action/internal/wellknown"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	dssetype "github.com/sigstore/rekor/pkg/types/dsse"
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	"google.golang.org/protobuf/encoding/protojson"
)

// Offsets of the other timestamps from the signing time, mimicking the
// order of events of a real keyless signing.
const (
	integratedDelay = 2 * time.Second // Rekor integrates the entry after signing
	tsaDelay        = 1 * time.Second // the TSA stamps the signature after signing
)

// tsaPolicy is the TSA policy OID (Sigstore's).
var tsaPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}

// SignOption adjusts one signing operation.
type SignOption func(*signConfig)

type signConfig struct {
	at          time.Time
	tamperProof bool
	withTSA     bool
	withoutTlog bool
	withoutSCT  bool
	tamperSig   bool
}

// WithSigningTime sets the signing time (certificate NotBefore and SCT time;
// the Rekor integrated time is 2 s later, the TSA time 1 s later). Default:
// the Authority's time.
func WithSigningTime(t time.Time) SignOption {
	return func(c *signConfig) { c.at = t.UTC().Truncate(time.Second) }
}

// WithTamperedInclusionProof flips a byte of the Rekor inclusion proof (the
// root hash, or the first proof hash when there is one), so inclusion
// verification must fail while the rest of the bundle stays well-formed.
func WithTamperedInclusionProof() SignOption { return func(c *signConfig) { c.tamperProof = true } }

// WithTimestamp adds an RFC 3161 signed timestamp from the kit's TSA over the
// signature (the Authority must be created WithTSA()).
func WithTimestamp() SignOption { return func(c *signConfig) { c.withTSA = true } }

// WithoutTlog leaves the bundle without any transparency log entry.
func WithoutTlog() SignOption { return func(c *signConfig) { c.withoutTlog = true } }

// WithoutSCT issues the leaf certificate without an embedded SCT.
func WithoutSCT() SignOption { return func(c *signConfig) { c.withoutSCT = true } }

// WithTamperedSignature flips a byte of the artifact signature after the
// bundle (and its log entry) was made, so signature verification must fail.
func WithTamperedSignature() SignOption { return func(c *signConfig) { c.tamperSig = true } }

func (a *Authority) signConfig(opts []SignOption) signConfig {
	c := signConfig{at: a.now}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Subject is one in-toto statement subject: a name and its SHA-256 (hex).
type Subject struct {
	Name      string
	SHA256Hex string
}

// SignArtifact returns a message-signature bundle (JSON) over sha256(artifact),
// signed by a fresh leaf certificate for id and logged as hashedrekord v0.0.1.
func (a *Authority) SignArtifact(artifact []byte, id Identity, opts ...SignOption) ([]byte, error) {
	d := sha256.Sum256(artifact)
	return a.SignDigest(d[:], id, opts...)
}

// SignDigest is SignArtifact given the artifact's SHA-256 digest.
func (a *Authority) SignDigest(digest []byte, id Identity, opts ...SignOption) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("sigstorekit: digest is %d bytes, want a %d-byte SHA-256", len(digest), sha256.Size)
	}
	c := a.signConfig(opts)
	key, cert, err := a.keyless(id, c)
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: sign digest: %w", err)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := a.addLogAndTimestamp(vm, c, sig, rekorEntryInput{kind: hashedrekord.KIND, digestHex: hex.EncodeToString(digest), sig: sig, keyPEM: certPEM}); err != nil {
		return nil, err
	}
	return marshalBundle(messageBundle(vm, digest, maybeTamper(sig, c.tamperSig)))
}

// SignWithKey returns a message-signature bundle over the SHA-256 digest made
// with the Authority's managed key (no certificate: verificationMaterial is
// publicKey{hint: ManagedKeyHint()}), still logged in Rekor, and the key's PEM.
// Verify it with TrustedMaterial() and verify.WithKey().
func (a *Authority) SignWithKey(digest []byte, opts ...SignOption) (bundle []byte, publicKeyPEM []byte, err error) {
	if len(digest) != sha256.Size {
		return nil, nil, fmt.Errorf("sigstorekit: digest is %d bytes, want a %d-byte SHA-256", len(digest), sha256.Size)
	}
	c := a.signConfig(opts)
	sig, err := ecdsa.SignASN1(rand.Reader, a.managedKey, digest)
	if err != nil {
		return nil, nil, fmt.Errorf("sigstorekit: sign digest: %w", err)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: a.ManagedKeyHint()}},
	}
	keyPEM := a.ManagedKeyPEM()
	if err := a.addLogAndTimestamp(vm, c, sig, rekorEntryInput{kind: hashedrekord.KIND, digestHex: hex.EncodeToString(digest), sig: sig, keyPEM: keyPEM}); err != nil {
		return nil, nil, err
	}
	out, err := marshalBundle(messageBundle(vm, digest, maybeTamper(sig, c.tamperSig)))
	if err != nil {
		return nil, nil, err
	}
	return out, keyPEM, nil
}

// Statement builds the in-toto v1 statement JSON SignDSSE signs.
func Statement(subjects []Subject, predicateType string, predicate any) ([]byte, error) {
	type subject struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	st := struct {
		Type          string    `json:"_type"`
		Subject       []subject `json:"subject"`
		PredicateType string    `json:"predicateType"`
		Predicate     any       `json:"predicate,omitempty"`
	}{Type: wellknown.InTotoStatementV1, PredicateType: predicateType, Predicate: predicate}
	for _, s := range subjects {
		st.Subject = append(st.Subject, subject{Name: s.Name, Digest: map[string]string{"sha256": s.SHA256Hex}})
	}
	out, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: marshal statement: %w", err)
	}
	return out, nil
}

// SignDSSE returns a DSSE bundle whose payload is an in-toto v1 statement
// (payloadType application/vnd.in-toto+json) about subjects, signed by a
// fresh leaf certificate for id and logged as dsse v0.0.1.
func (a *Authority) SignDSSE(subjects []Subject, predicateType string, predicate any, id Identity, opts ...SignOption) ([]byte, error) {
	payload, err := Statement(subjects, predicateType, predicate)
	if err != nil {
		return nil, err
	}
	return a.SignPayload(wellknown.InTotoPayloadType, payload, id, opts...)
}

// SignPayload returns a DSSE bundle over an arbitrary payload of payloadType
// (for tests of malformed statements), signed and logged like SignDSSE.
func (a *Authority) SignPayload(payloadType string, payload []byte, id Identity, opts ...SignOption) ([]byte, error) {
	c := a.signConfig(opts)
	key, cert, err := a.keyless(id, c)
	if err != nil {
		return nil, err
	}
	sig, err := signECDSA(key, dsse.PAE(payloadType, payload))
	if err != nil {
		return nil, err
	}
	envJSON, err := json.Marshal(dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: marshal envelope: %w", err)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := a.addLogAndTimestamp(vm, c, sig, rekorEntryInput{kind: dssetype.KIND, artifact: envJSON, keyPEM: certPEM}); err != nil {
		return nil, err
	}
	b := &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: payloadType,
			Signatures:  []*protodsse.Signature{{Sig: maybeTamper(sig, c.tamperSig)}},
		}},
	}
	return marshalBundle(b)
}

// keyless generates an ephemeral key and its Fulcio-like certificate.
func (a *Authority) keyless(id Identity, c signConfig) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	cert, err := a.issueLeaf(id, &key.PublicKey, c.at, c.withoutSCT)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// addLogAndTimestamp adds the Rekor entry and the RFC 3161 timestamp the
// options ask for to vm.
func (a *Authority) addLogAndTimestamp(vm *protobundle.VerificationMaterial, c signConfig, sig []byte, in rekorEntryInput) error {
	if !c.withoutTlog {
		body, version, err := canonicalBody(context.Background(), in)
		if err != nil {
			return err
		}
		tle, err := a.logEntry(context.Background(), body, in.kind, version, c.at.Add(integratedDelay), c.tamperProof)
		if err != nil {
			return err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	if c.withTSA {
		tsr, err := a.Timestamp(sig, c.at.Add(tsaDelay))
		if err != nil {
			return err
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	return nil
}

// Timestamp returns a DER RFC 3161 timestamp response from the kit's TSA over
// sha256(sig) at time t. It returns ErrNoTSA without WithTSA().
func (a *Authority) Timestamp(sig []byte, t time.Time) ([]byte, error) {
	if a.tsaLeaf == nil {
		return nil, ErrNoTSA
	}
	d := sha256.Sum256(sig)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: TSA nonce: %w", err)
	}
	ts := timestamp.Timestamp{
		HashAlgorithm: crypto.SHA256,
		HashedMessage: d[:],
		Time:          t.UTC(),
		Nonce:         nonce,
		Policy:        tsaPolicy,
		SerialNumber:  a.nextSerial(),
	}
	resp, err := ts.CreateResponseWithOpts(a.tsaLeaf, a.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: TSA response: %w", err)
	}
	return resp, nil
}

func messageBundle(vm *protobundle.VerificationMaterial, digest, sig []byte) *protobundle.Bundle {
	return &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: bytes.Clone(digest)},
			Signature:     sig,
		}},
	}
}

func maybeTamper(sig []byte, tamper bool) []byte {
	if !tamper {
		return sig
	}
	out := bytes.Clone(sig)
	out[len(out)-1] ^= 0x01
	return out
}

func marshalBundle(b *protobundle.Bundle) ([]byte, error) {
	out, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: marshal bundle: %w", err)
	}
	return out, nil
}
