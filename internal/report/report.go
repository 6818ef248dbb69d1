// Package report holds the result of one verification run (Report) and turns
// it into the three forms people and machines read: indented JSON
// (WriteJSON), the GitHub job summary in Markdown (WriteMarkdown) and the
// terminal output of the CLI (WriteText). It also writes the evidence folder
// (Evidence, WriteFileAtomic).
//
// Every string in a Report may come from the network or from file names, so
// the renderers pass every one of them through package safetext. Renderers
// fail closed: a check that did not run is never shown as a match, and a
// Report whose Verdict says verified while its checks do not add up to that
// is shown as "could not verify".
package report

import (
	"time"

	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// SchemaVersion is the version of the JSON report format.
const SchemaVersion = 1

// MediaType identifies the JSON report format.
const MediaType = "application/vnd.kms-verify.report+json;version=1"

// Report is everything one run found out. The JSON field names are the
// stable, documented report format.
type Report struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Verdict       verdict.Verdict `json:"verdict"`
	Reason        string          `json:"reason"`
	Message       string          `json:"message"` // one sentence: what was proven / what went wrong
	Tool          Tool            `json:"tool"`
	Run           *Run            `json:"run,omitempty"` // set in GitHub Actions
	Source        Source          `json:"source"`
	Artifacts     []Artifact      `json:"artifacts"`
	Page          *Page           `json:"page,omitempty"`
	Sites         []Site          `json:"sites,omitempty"` // site mode: each web app verified as a whole
	// Headers is what the response-header checks found, one entry for page
	// mode and one per site (see headers.go).
	Headers   []Headers  `json:"headers,omitempty"`
	Signature *Signature `json:"signature,omitempty"`
	// Toolchain is what the rebuild ran with and where each version came from.
	Toolchain *toolchain.Result `json:"toolchain,omitempty"`
	Checks    []verdict.Check   `json:"checks"`
	Timings   []Timing          `json:"timings"`
	// Cost splits the wall time into the build and the verifier's own work.
	Cost       *Cost     `json:"cost,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Reproduce  []string  `json:"reproduce,omitempty"` // shell lines a human can paste (already quoted by the caller)
	// Release says how the tag was chosen (--tag latest); nil for a literal tag.
	Release *Release `json:"release,omitempty"`
	// Diagnoses say what kind of failure each byte mismatch is (see diagnosis.go).
	Diagnoses []Diagnosis `json:"diagnoses,omitempty"`
	// Evidence lists the evidence folder of the run, when there is one.
	Evidence *EvidenceList `json:"evidence,omitempty"`
}

// EvidenceReportName is the copy of the JSON report kept in the evidence folder.
const EvidenceReportName = "verification-report.json"

// EvidenceList names the evidence folder and the files in it (base names),
// so the summary can say which file holds the proof of each failure.
type EvidenceList struct {
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

// Tool identifies the verifier that produced the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	URL     string `json:"url"` // link to the verifier's code at Commit
	// Hashing names the SHA-384/SHA-512 implementation (digest.Backend):
	// the system's OpenSSL libcrypto or Go's crypto/sha512.
	Hashing string `json:"hashing,omitempty"`
}

// Run identifies the GitHub Actions run that produced the report.
type Run struct {
	Repository string `json:"repository"`
	RunID      string `json:"runId"`
	RunAttempt string `json:"runAttempt"`
	Workflow   string `json:"workflow"`
	Event      string `json:"event"`
	URL        string `json:"url"`
	ServerURL  string `json:"serverUrl"`
}

// Source is the tagged release that was rebuilt.
type Source struct {
	Repository      string `json:"repository"`
	Tag             string `json:"tag"`
	Commit          string `json:"commit"`
	SourceDateEpoch int64  `json:"sourceDateEpoch"`
}

// Digests are the hashes and size of one file.
type Digests struct {
	SHA256 string `json:"sha256"` // lowercase hex
	SRI    string `json:"sri"`    // e.g. "sha384-…"
	Size   int64  `json:"size"`
}

// Artifact is one file that was rebuilt and fetched live.
type Artifact struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`               // in the checkout
	URL      string    `json:"url"`                // live URL as configured
	FinalURL string    `json:"finalUrl,omitempty"` // after redirects
	Rebuilt  *Digests  `json:"rebuilt,omitempty"`
	Live     *Digests  `json:"live,omitempty"`
	HTTP     *HTTPInfo `json:"http,omitempty"`
	// Served lists what each client profile got (see Served).
	Served []Served `json:"served,omitempty"`
	// Signature is this artifact's signature result; Report.Signature is the
	// worst of them, so one bad signature among several is never hidden.
	Signature *Signature `json:"signature,omitempty"`
}

// HTTPInfo describes the live fetch of an artifact.
type HTTPInfo struct {
	Status   int               `json:"status"`
	Attempts int               `json:"attempts"`
	Headers  map[string]string `json:"headers,omitempty"` // selected response headers
	// ContentEncoding is the content codings the body was served with
	// ("gzip", "gzip, br"; empty = none) and EncodedSize the bytes on the
	// wire; the digests are over the decoded bytes, as a browser checks SRI.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	EncodedSize     int64  `json:"encodedSize,omitempty"`
}

// Page is the HTML page whose integrity declarations were checked.
type Page struct {
	URL      string `json:"url"`
	FinalURL string `json:"finalUrl,omitempty"`
	// Declarations counts the integrity attributes (and import map
	// integrity entries) that exist on the page; WithoutIntegrity counts the
	// script and style references that have none.
	Declarations     int `json:"declarations"`
	WithoutIntegrity int `json:"withoutIntegrity,omitempty"`
	// References is what the page makes the browser run or apply, and how
	// each was accounted for.
	References []Reference `json:"references,omitempty"`
	// Served lists what each client profile got for the page (see Served).
	Served []Served `json:"served,omitempty"`
	// Frames are the same-origin frame documents that were followed, and
	// what each loads.
	Frames []SitePage `json:"frames,omitempty"`
}

// Site is one deployed web app verified as a whole: every file of the
// rebuilt output folder fetched and compared, every page accounted for.
type Site struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Dir  string `json:"dir"` // the rebuilt output folder, in the checkout
	// Files are the fetches of the release's files (an index.html twice:
	// at its own URL and at its folder's URL).
	Files []SiteFile `json:"files"`
	// Excluded are the files of the folder that were not fetched, and why.
	Excluded []SiteExcluded `json:"excluded"`
	// Pages are the release's HTML pages as served, and their references.
	Pages []SitePage `json:"pages"`
}

// SiteFile is one file of the release fetched from the site.
type SiteFile struct {
	Path    string         `json:"path"`
	URL     string         `json:"url"`
	Status  verdict.Status `json:"status"` // pass | fail | error
	Reason  string         `json:"reason,omitempty"`
	Rebuilt *Digests       `json:"rebuilt,omitempty"`
	Live    *Digests       `json:"live,omitempty"`
	HTTP    *HTTPInfo      `json:"http,omitempty"`
	Served  []Served       `json:"served,omitempty"` // what each client profile got
}

// SiteExcluded is a file of the output folder that was not fetched.
type SiteExcluded struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

// SitePage is one HTML page of a site, as served, and what it references.
type SitePage struct {
	Path             string      `json:"path"`
	URL              string      `json:"url"`
	Declarations     int         `json:"declarations"`
	WithoutIntegrity int         `json:"withoutIntegrity"`
	References       []Reference `json:"references"`
}

// Reference is one thing a page makes the browser run, apply or embed
// (a script, a style, a frame, an import map target, a <base>, a refresh,
// inline code) and whether it is accounted for.
type Reference struct {
	Kind      string `json:"kind"`
	Ref       string `json:"ref,omitempty"` // as written on the page
	URL       string `json:"url,omitempty"` // resolved
	Integrity string `json:"integrity,omitempty"`
	// Status is pass when accounted for, fail when not, skipped when an
	// explicit input accepted it unverified.
	Status verdict.Status `json:"status"`
	// By says how it was accounted for (a release file, a pin, an allow-list
	// entry) or why it was not.
	By string `json:"by"`
}

// Signature is the result of the Sigstore verification of the release.
type Signature struct {
	Status            verdict.Status `json:"status"`                 // pass | fail | error | skipped
	Bundle            string         `json:"bundle"`                 // where the verifying bundle came from
	BundleSHA256      string         `json:"bundleSha256,omitempty"` // SHA-256 of the verifying bundle's bytes
	Kind              string         `json:"kind,omitempty"`         // message-signature | dsse
	SAN               string         `json:"san,omitempty"`
	Issuer            string         `json:"issuer,omitempty"`
	Workflow          string         `json:"workflow,omitempty"`
	Repository        string         `json:"repository,omitempty"`
	Ref               string         `json:"ref,omitempty"`
	Commit            string         `json:"commit,omitempty"`
	RunnerEnvironment string         `json:"runnerEnvironment,omitempty"`
	Trigger           string         `json:"trigger,omitempty"`
	RunURL            string         `json:"runUrl,omitempty"`
	KeyHint           string         `json:"keyHint,omitempty"`
	LogIndex          int64          `json:"logIndex,omitempty"`
	LogID             string         `json:"logId,omitempty"`
	IntegratedTime    *time.Time     `json:"integratedTime,omitempty"`
	Timestamps        []time.Time    `json:"timestamps,omitempty"`
	PredicateType     string         `json:"predicateType,omitempty"`
	TrustedRoot       string         `json:"trustedRoot,omitempty"` // "file:…" or the TUF URL
	// Message is a one-line explanation (why it failed, or why it was skipped).
	Message string `json:"message,omitempty"`
	// Candidates are every bundle considered and why each was or was not
	// accepted (see Candidate; rendered by attestations.go).
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Timing is how long one stage took.
type Timing struct {
	Stage  string `json:"stage"`
	Millis int64  `json:"millis"`
}
