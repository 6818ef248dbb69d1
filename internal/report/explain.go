package report

import (
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// pageIntegrityID is the check (set by package compare) that the page pins
// an artifact by its rebuilt hash.
const pageIntegrityID = "page-integrity"

// explanations says, for each artifact whose served bytes differ from the
// rebuild, why a valid signature and a failed verdict can both be true, and
// whether browsers enforcing SRI would refuse the served file. The text is
// plain (each renderer escapes it), one list of sentences per artifact, so
// no escaping cap cuts a sentence. It is empty when no bytes differ.
func (r *Report) explanations() [][]string {
	var out [][]string
	for _, a := range r.Artifacts {
		if a.Rebuilt == nil || a.Live == nil || a.Rebuilt.SHA256 == "" || a.Live.SHA256 == "" || a.Rebuilt.SHA256 == a.Live.SHA256 {
			continue
		}
		sig := a.Signature
		if sig == nil && len(r.Artifacts) == 1 {
			sig = r.Signature
		}
		rebuilt, live := shorten(a.Rebuilt.SHA256, shortHex), shorten(a.Live.SHA256, shortHex)
		var s []string
		if sig != nil && sig.Status == verdict.StatusPass {
			s = append(s, "The signature is valid and the run still fails: the signature proves what the release workflow built "+
				"("+a.Name+", SHA-256 "+rebuilt+", the same bytes as the rebuild), and the CDN serves other bytes (SHA-256 "+live+").")
		} else {
			s = append(s, "The CDN serves "+a.Name+" with SHA-256 "+live+", not the bytes the tagged source rebuilds to (SHA-256 "+rebuilt+").")
		}
		switch st, found := r.checkStatus(pageIntegrityID, a.Name); {
		case found && st == verdict.StatusPass:
			s = append(s, "The page pins the rebuilt hash with integrity=, so browsers that enforce SRI refuse the served file when that page loads it.",
				"That protection does not apply to users who load the URL directly (opening it, curl, or a script, worker or import that gives no integrity=): they get the served bytes.")
		case found && st == verdict.StatusFail:
			s = append(s, "The page does not pin the rebuilt hash, so SRI does not stop browsers from running the served file.")
		default:
			s = append(s, "No page check ran for it, so nothing here says whether a browser would refuse the served file.")
		}
		out = append(out, s)
	}
	return out
}
