package sigstorekit

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	dssetype "github.com/sigstore/rekor/pkg/types/dsse"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // registers dsse v0.0.1
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // registers hashedrekord v0.0.1
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
)

// rekorEntryInput describes what goes into a Rekor v1 entry.
type rekorEntryInput struct {
	kind      string // hashedrekord.KIND or dssetype.KIND
	artifact  []byte // hashedrekord: unused; dsse: the envelope JSON
	digestHex string // hashedrekord: sha256 of the artifact, hex
	sig       []byte // hashedrekord: signature bytes
	keyPEM    []byte // certificate or public key PEM
}

// canonicalBody builds the canonicalized Rekor v1 entry body exactly as the
// Rekor server would store it.
func canonicalBody(ctx context.Context, in rekorEntryInput) ([]byte, string, error) {
	props := types.ArtifactProperties{
		PublicKeyBytes: [][]byte{in.keyPEM},
		PKIFormat:      string(pki.X509),
	}
	var version string
	switch in.kind {
	case hashedrekord.KIND:
		version = hashedrekord.New().DefaultVersion()
		props.ArtifactHash = "sha256:" + in.digestHex
		props.SignatureBytes = in.sig
	case dssetype.KIND:
		version = dssetype.New().DefaultVersion()
		props.ArtifactBytes = in.artifact
	default:
		return nil, "", fmt.Errorf("sigstorekit: unsupported rekor kind %q", in.kind)
	}
	proposed, err := types.NewProposedEntry(ctx, in.kind, version, props)
	if err != nil {
		return nil, "", fmt.Errorf("sigstorekit: rekor %s entry: %w", in.kind, err)
	}
	impl, err := types.CreateVersionedEntry(proposed)
	if err != nil {
		return nil, "", fmt.Errorf("sigstorekit: rekor %s entry: %w", in.kind, err)
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return nil, "", fmt.Errorf("sigstorekit: canonicalize rekor %s entry: %w", in.kind, err)
	}
	return body, version, nil
}

// mth is the RFC 6962 Merkle tree hash of the given leaf hashes.
func mth(leaves [][]byte) []byte {
	switch n := len(leaves); n {
	case 0:
		return rfc6962.DefaultHasher.EmptyRoot()
	case 1:
		return leaves[0]
	default:
		k := splitPoint(n)
		return rfc6962.DefaultHasher.HashChildren(mth(leaves[:k]), mth(leaves[k:]))
	}
}

// auditPath is the RFC 6962 inclusion proof PATH(m, D[n]).
func auditPath(m int, leaves [][]byte) [][]byte {
	n := len(leaves)
	if n <= 1 {
		return [][]byte{}
	}
	k := splitPoint(n)
	if m < k {
		return append(auditPath(m, leaves[:k]), mth(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), mth(leaves[:k]))
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// logEntry appends body to the kit's Rekor log and returns a complete
// TransparencyLogEntry: inclusion promise (SET) and an inclusion proof
// against the tree right after the append, with a signed checkpoint.
func (a *Authority) logEntry(ctx context.Context, body []byte, kind, version string, integrated time.Time, tamper bool) (*protorekor.TransparencyLogEntry, error) {
	id, err := logID(&a.rekorKey.PublicKey)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.leaves = append(a.leaves, rfc6962.DefaultHasher.HashLeaf(body))
	leaves := append([][]byte(nil), a.leaves...)
	a.mu.Unlock()
	index := len(leaves) - 1
	rootHash := mth(leaves)
	proof := auditPath(index, leaves)

	set, err := a.signSET(body, integrated.Unix(), int64(index), hex.EncodeToString(id))
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(a.rekorKey, cryptoSHA256)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: rekor signer: %w", err)
	}
	checkpoint, err := util.CreateAndSignCheckpoint(ctx, rekorHostname, a.treeID, uint64(len(leaves)), rootHash, sv)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: checkpoint: %w", err)
	}
	if tamper {
		// Flip a byte of the proof's root hash (or of a proof hash when the
		// tree is larger): the inclusion proof no longer verifies.
		if len(proof) > 0 {
			proof[0] = flipped(proof[0])
		} else {
			rootHash = flipped(rootHash)
		}
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          int64(index),
		LogId:             &protocommon.LogId{KeyId: id},
		KindVersion:       &protorekor.KindVersion{Kind: kind, Version: version},
		IntegratedTime:    integrated.Unix(),
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   int64(index),
			RootHash:   rootHash,
			TreeSize:   int64(len(leaves)),
			Hashes:     proof,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(checkpoint)},
		},
	}, nil
}

func flipped(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[0] ^= 0x01
	return out
}

// signSET signs the Rekor v1 inclusion promise over the canonical JSON of
// {body, integratedTime, logIndex, logID}.
func (a *Authority) signSET(body []byte, integrated, index int64, logIDHex string) ([]byte, error) {
	payload, err := json.Marshal(struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	}{base64.StdEncoding.EncodeToString(body), integrated, index, logIDHex})
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SET payload: %w", err)
	}
	canon, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: SET payload: %w", err)
	}
	return signECDSA(a.rekorKey, canon)
}

// signECDSA signs sha256(msg) with k (ASN.1 signature).
func signECDSA(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		return nil, fmt.Errorf("sigstorekit: sign: %w", err)
	}
	return sig, nil
}
