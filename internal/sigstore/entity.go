package sigstore

import (
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// parsedBundle is a bundle whose transparency-log entries and verification
// material are parsed once. bundle.Bundle parses them again on every call
// (each Rekor entry's body goes through Rekor's JSON models and their
// validation), and one verification asks several times: the verifier's
// transparency-log, SCT and signature steps, then the report. The values are
// read-only, so sharing them changes nothing but the work done.
type parsedBundle struct {
	*bundle.Bundle
	entries []*tlog.Entry
	vc      verify.VerificationContent
}

// TlogEntries implements verify.TlogEntryProvider with the entries parsed once.
func (p *parsedBundle) TlogEntries() ([]*tlog.Entry, error) { return p.entries, nil }

// VerificationContent implements verify.VerificationProvider with the
// material parsed once.
func (p *parsedBundle) VerificationContent() (verify.VerificationContent, error) { return p.vc, nil }
