package compare

import (
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func sum(t testing.TB, s string) digest.Sum {
	t.Helper()
	out, err := digest.Reader(strings.NewReader(s), 1<<20, digest.WithSHA512())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const content = "export function kms() { return 42 }\n"

func flip(s string, i int) string {
	b := []byte(s)
	b[i] ^= 0x01
	return string(b)
}

// byID indexes checks by ID, failing on duplicates.
func byID(t *testing.T, checks []verdict.Check) map[string]verdict.Check {
	t.Helper()
	m := map[string]verdict.Check{}
	for _, c := range checks {
		if _, dup := m[c.ID]; dup {
			t.Fatalf("duplicate check %q", c.ID)
		}
		m[c.ID] = c
	}
	return m
}

func TestArtifact(t *testing.T) {
	t.Parallel()
	rebuilt := sum(t, content)
	hex := rebuilt.SHA256Hex()
	const plainURL = "https://cdn.example.com/kms.js"
	tests := []struct {
		name string
		live string
		url  string
		want map[string]string // check ID -> reason ("" = pass); absent IDs must not appear
	}{
		{name: "identical", live: content, url: plainURL,
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "one flipped byte", live: flip(content, 10), url: plainURL,
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": ""}},
		{name: "flipped last byte", live: flip(content, len(content)-1), url: plainURL,
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": ""}},
		{name: "truncated body", live: content[:len(content)-1], url: plainURL,
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": "size-mismatch"}},
		{name: "appended byte", live: content + "\n", url: plainURL,
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": "size-mismatch"}},
		{name: "empty live", live: "", url: plainURL,
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": "size-mismatch"}},
		{name: "content address ok", live: content, url: "https://cdn.example.com/kms-worker." + hex[:8] + ".js",
			want: map[string]string{"sha256": "", "sri": "", "size": "", "content-address": ""}},
		{name: "content address upper-case and long", live: content, url: "https://cdn.example.com/kms-v1.0.1-" + strings.ToUpper(hex[:16]) + ".mjs?x=1",
			want: map[string]string{"sha256": "", "sri": "", "size": "", "content-address": ""}},
		{name: "name hashed with another function is reported, not failed", live: content, url: "https://cdn.example.com/kms_deadbeef.js",
			want: map[string]string{"sha256": "", "sri": "", "size": "", "content-address": "skipped"}},
		{name: "content address of tampered bytes", live: flip(content, 3), url: "https://cdn.example.com/kms." + hex[:8] + ".js",
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": "", "content-address": "content-address-mismatch"}},
		{name: "content address matches live not rebuilt", live: flip(content, 3), url: "https://cdn.example.com/kms." + sum(t, flip(content, 3)).SHA256Hex()[:10] + ".js",
			want: map[string]string{"sha256": "tampered", "sri": "sri-mismatch", "size": "", "content-address": "content-address-mismatch"}},
		{name: "short hex ignored", live: content, url: "https://cdn.example.com/kms.abc123.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "version ignored", live: content, url: "https://cdn.example.com/kms-v1.0.1.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "date ignored", live: content, url: "https://cdn.example.com/kms-20240101.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "non-hex name ignored", live: content, url: "https://cdn.example.com/kms-worker-BvN5sRaA.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "hex in directory ignored", live: content, url: "https://cdn.example.com/deadbeefcafe/kms.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "hex glued to word ignored", live: content, url: "https://cdn.example.com/kmsdeadbeef.js",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
		{name: "unparsable url", live: content, url: "https://[::1",
			want: map[string]string{"sha256": "", "sri": "", "size": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			live := sum(t, tc.live)
			checks := Artifact("kms.js", rebuilt, live, tc.url)
			got := byID(t, checks)
			if len(got) != len(tc.want) {
				t.Fatalf("got checks %v, want %v", got, tc.want)
			}
			for id, reason := range tc.want {
				c, ok := got[id]
				if !ok {
					t.Fatalf("missing check %q", id)
				}
				wantStatus := verdict.StatusPass
				switch reason {
				case "":
				case "skipped":
					wantStatus, reason = verdict.StatusSkipped, ""
				default:
					wantStatus = verdict.StatusFail
				}
				if c.Status != wantStatus || c.Reason != reason {
					t.Errorf("%s: status %s reason %q, want %s %q (%s)", id, c.Status, c.Reason, wantStatus, reason, c.Message)
				}
				if c.Subject != "kms.js" || c.Title == "" || c.Expected == "" {
					t.Errorf("%s: incomplete check %+v", id, c)
				}
			}
			v, _ := verdict.Combine(checks)
			wantV := verdict.Verified
			for _, r := range tc.want {
				if r != "" && r != "skipped" {
					wantV = verdict.Failed
				}
			}
			if v != wantV {
				t.Errorf("verdict = %s, want %s", v, wantV)
			}
		})
	}
}

func TestContentAddress(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"https://x/kms-worker.f3442c7b.js":        "f3442c7b",
		"https://x/kms-v1.0.1-7f8a9b0c.mjs":       "7f8a9b0c",
		"https://x/a.deadbeef.cafebabe1.js":       "cafebabe1",
		"https://x/a_DEADBEEF.js":                 "deadbeef",
		"https://x/a.12345678.js":                 "",
		"https://x/a.f3442c7.js":                  "",
		"https://x/a.f3442c7g.js":                 "",
		"https://x/":                              "",
		"https://x":                               "",
		"https://x/kms.js#frag.deadbeef00":        "",
		"https://x/kms.js?h=deadbeef00":           "",
		"https://x/kms.%64eadbeef00.js":           "deadbeef00",
		"https://x/deadbeefcafebabe":              "deadbeefcafebabe",
		"https://x/kms-1.2.3-rc.1+build.abc.js":   "",
		"https://x/sha-0123456789abcdef0123.wasm": "0123456789abcdef0123",
	} {
		if got := ContentAddress(url); got != want {
			t.Errorf("ContentAddress(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	kms, worker := sum(t, content), sum(t, "worker code")
	other := sum(t, "something else")
	known := []Known{
		{Name: "kms.js", URL: "https://cdn.example.com/kms.js", Sum: kms},
		{Name: "worker.js", URL: "https://cdn.example.com/worker.js", Sum: worker},
	}
	script := func(u, integrity string) page.Declaration {
		return page.Declaration{Element: "script", Attr: "src", Ref: u, URL: u, Integrity: integrity}
	}
	const pageURL = "https://kms.example.com/"
	type want struct {
		subject string
		status  verdict.Status
		reason  string
	}
	tests := []struct {
		name  string
		decls []page.Declaration
		want  []want
		verd  verdict.Verdict
	}{
		{name: "both declared with matching sri",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha384")), script(known[1].URL, worker.SRI("sha512"))},
			want:  []want{{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Verified},
		{name: "importmap and normalized url",
			decls: []page.Declaration{
				{Element: "importmap", Ref: "/kms.js", URL: "HTTPS://CDN.example.com:443/kms.js#x", Integrity: kms.SRI("sha256")},
				{Element: "link", Attr: "href", Ref: "w", URL: known[1].URL, Integrity: "md5-x " + worker.SRI("sha384"), Rel: "modulepreload"},
			},
			want: []want{{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Verified},
		{name: "mismatching sri",
			decls: []page.Declaration{script(known[0].URL, other.SRI("sha384")), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-mismatch"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "one flipped byte in sri",
			decls: []page.Declaration{script(known[0].URL, flip(kms.SRI("sha384"), 12)), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-mismatch"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "swapped artifacts",
			decls: []page.Declaration{script(known[0].URL, worker.SRI("sha384")), script(known[1].URL, kms.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-mismatch"}, {"worker.js", verdict.StatusFail, "sri-mismatch"}}, verd: verdict.Failed},
		{name: "weak hash matches but strongest does not",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha256")+" "+other.SRI("sha512")), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-mismatch"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "a second hash lets the CDN serve other bytes",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha384")+" "+other.SRI("sha384")), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-allows-other"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "the same hash twice is still exclusive",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha384")+" "+kms.SRI("sha384")+"?opt"), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Verified},
		{name: "missing integrity",
			decls: []page.Declaration{script(known[0].URL, ""), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-missing"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "invalid integrity",
			decls: []page.Declaration{script(known[0].URL, "md5-abc sha1-def"), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusFail, "sri-invalid"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
		{name: "artifact not declared",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusFail, "sri-not-declared"}}, verd: verdict.Failed},
		{name: "empty page",
			decls: nil,
			want:  []want{{"kms.js", verdict.StatusFail, "sri-not-declared"}, {"worker.js", verdict.StatusFail, "sri-not-declared"}}, verd: verdict.Failed},
		{name: "pinned from another url",
			decls: []page.Declaration{script("https://mirror.example.net/k.js", kms.SRI("sha384")), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Verified},
		{name: "other resources skipped",
			decls: []page.Declaration{
				script("https://analytics.example/a.js", ""),
				script("https://analytics.example/b.js", other.SRI("sha384")),
				{Element: "importmap", Ref: "bare", Integrity: "garbage"},
				script(known[0].URL, kms.SRI("sha384")), script(known[1].URL, worker.SRI("sha384")),
			},
			want: []want{
				{"https://analytics.example/a.js", verdict.StatusSkipped, ""},
				{"https://analytics.example/b.js", verdict.StatusSkipped, ""},
				{"bare", verdict.StatusSkipped, ""},
				{"kms.js", verdict.StatusPass, ""}, {"worker.js", verdict.StatusPass, ""},
			}, verd: verdict.Verified},
		{name: "query string is a different url",
			decls: []page.Declaration{script(known[0].URL+"?v=2", ""), script(known[1].URL, worker.SRI("sha384"))},
			want: []want{
				{known[0].URL + "?v=2", verdict.StatusSkipped, ""},
				{"worker.js", verdict.StatusPass, ""},
				{"kms.js", verdict.StatusFail, "sri-not-declared"},
			}, verd: verdict.Failed},
		{name: "declared twice, second wrong",
			decls: []page.Declaration{script(known[0].URL, kms.SRI("sha384")), script(known[0].URL, other.SRI("sha384")), script(known[1].URL, worker.SRI("sha384"))},
			want:  []want{{"kms.js", verdict.StatusPass, ""}, {"kms.js", verdict.StatusFail, "sri-mismatch"}, {"worker.js", verdict.StatusPass, ""}}, verd: verdict.Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checks := Page(pageURL, tc.decls, known)
			if len(checks) != len(tc.want) {
				t.Fatalf("got %d checks, want %d: %+v", len(checks), len(tc.want), checks)
			}
			for i, w := range tc.want {
				c := checks[i]
				if c.ID != "page-integrity" || c.Subject != w.subject || c.Status != w.status || c.Reason != w.reason {
					t.Errorf("check %d = {%s %q %s %q}, want %+v (%s)", i, c.ID, c.Subject, c.Status, c.Reason, w, c.Message)
				}
				if c.Status == verdict.StatusSkipped && c.Message != notChecked {
					t.Errorf("skipped message = %q", c.Message)
				}
				if c.Status == verdict.StatusFail && (c.Expected == "" || c.Message == "") {
					t.Errorf("fail without expected/message: %+v", c)
				}
			}
			if v, _ := verdict.Combine(checks); v != tc.verd {
				t.Errorf("verdict = %s, want %s", v, tc.verd)
			}
		})
	}
}

func TestPageNoKnown(t *testing.T) {
	t.Parallel()
	checks := Page("https://p/", []page.Declaration{{Element: "script", Attr: "src", Ref: "a", URL: "https://p/a"}}, nil)
	if v, r := verdict.Combine(checks); v != verdict.Inconclusive || r != verdict.ReasonNoChecks {
		t.Fatalf("verdict = %s %s", v, r)
	}
}

// A sha512 pin checked against a sum made without SHA-512 is an error (the
// caller must hash again), never a mismatch and never a pass.
func TestPageSHA512NotComputed(t *testing.T) {
	full := sum(t, "export default 1;\n")
	partial, err := digest.Reader(strings.NewReader("export default 1;\n"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	decls := []page.Declaration{{Element: "script", Attr: "src", URL: "https://cdn.example.com/kms.js", Integrity: full.SRI("sha512")}}
	checks := Page("https://kms.example.com/", decls, []Known{{Name: "kms.js", URL: "https://cdn.example.com/kms.js", Sum: partial}})
	if len(checks) != 1 || checks[0].Status != verdict.StatusError || checks[0].Reason != "sha512-not-computed" {
		t.Fatalf("got %+v", checks)
	}
	checks = Page("https://kms.example.com/", decls, []Known{{Name: "kms.js", URL: "https://cdn.example.com/kms.js", Sum: full}})
	if len(checks) != 1 || checks[0].Status != verdict.StatusPass {
		t.Fatalf("with SHA-512: got %+v", checks)
	}
}
