package headers

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kmsCSP is shaped like the KMS release's policy.
const kmsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; frame-ancestors https://ats.run https://www.ats.run; base-uri 'none'; form-action 'none'; object-src 'none'"

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestCompare(t *testing.T) {
	t.Parallel()
	want := hdr(
		"Content-Security-Policy", kmsCSP,
		"Permissions-Policy", `camera=(), microphone=(), geolocation=(), usb=(self "https://ats.run")`,
		"X-Content-Type-Options", "nosniff",
		"Integrity-Policy", "blocked-destinations=(script), endpoints=(default)",
	)
	same := want.Clone()
	tests := []struct {
		name    string
		mutate  func(h http.Header)
		headers []string // headers expected to mismatch
		missing bool
		detail  string // substring of the details
	}{
		{"identical", func(h http.Header) {}, nil, false, ""},
		{"reordered CSP, other case and spacing", func(h http.Header) {
			h.Set("Content-Security-Policy", "  OBJECT-SRC 'NONE' ;frame-ancestors   https://www.ats.run https://ats.run;script-src 'SELF' 'self';style-src 'self'; img-src data: 'self'; connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; default-src 'none';;")
		}, nil, false, ""},
		{"CSP as two field lines that equal one", func(h http.Header) {
			h.Del("Content-Security-Policy")
			h.Add("Content-Security-Policy", kmsCSP)
		}, nil, false, ""},
		{"CSP removed", func(h http.Header) { h.Del("Content-Security-Policy") }, []string{"Content-Security-Policy"}, true, ""},
		{"CSP weakened with unsafe-inline", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(kmsCSP, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1))
		}, []string{"Content-Security-Policy"}, false, "script-src adds 'unsafe-inline'"},
		{"CSP directive dropped", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(kmsCSP, "; object-src 'none'", "", 1))
		}, []string{"Content-Security-Policy"}, false, "directive object-src is missing"},
		{"extra frame-ancestors source", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(kmsCSP, "frame-ancestors https://ats.run", "frame-ancestors https://evil.example https://ats.run", 1))
		}, []string{"Content-Security-Policy"}, false, "frame-ancestors adds https://evil.example"},
		{"duplicate directive: the browser keeps the first", func(h http.Header) {
			h.Set("Content-Security-Policy", "script-src * 'unsafe-eval'; "+kmsCSP)
		}, []string{"Content-Security-Policy"}, false, "script-src adds"},
		{"second, weaker policy alongside is still a difference", func(h http.Header) {
			h.Add("Content-Security-Policy", "script-src *")
		}, []string{"Content-Security-Policy"}, false, "extra policy"},
		{"missing nosniff", func(h http.Header) { h.Del("X-Content-Type-Options") }, []string{"X-Content-Type-Options"}, true, ""},
		{"nosniff changed", func(h http.Header) { h.Set("X-Content-Type-Options", "sniff") }, []string{"X-Content-Type-Options"}, false, ""},
		{"permissions reordered", func(h http.Header) {
			h.Set("Permissions-Policy", `usb=("https://ats.run" self), geolocation=(),microphone=(), camera=()`)
		}, nil, false, ""},
		{"permissions widened", func(h http.Header) {
			h.Set("Permissions-Policy", `camera=*, microphone=(), geolocation=(), usb=(self "https://ats.run")`)
		}, []string{"Permissions-Policy"}, false, "camera is (*)"},
		{"permissions member dropped", func(h http.Header) {
			h.Set("Permissions-Policy", `camera=(), microphone=(), usb=(self "https://ats.run")`)
		}, []string{"Permissions-Policy"}, false, "member geolocation is missing"},
		{"permissions unparsable", func(h http.Header) { h.Set("Permissions-Policy", "camera=(") }, []string{"Permissions-Policy"}, false, "browsers ignore it"},
		{"integrity policy report-only instead", func(h http.Header) {
			h.Del("Integrity-Policy")
			h.Set("Integrity-Policy-Report-Only", "blocked-destinations=(script)")
		}, []string{"Integrity-Policy"}, true, ""},
		{"integrity policy without script", func(h http.Header) {
			h.Set("Integrity-Policy", "blocked-destinations=(style), endpoints=(default)")
		}, []string{"Integrity-Policy"}, false, "blocked-destinations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := same.Clone()
			tc.mutate(got)
			ms := Compare("/index.html", want, got)
			var names []string
			for _, m := range ms {
				names = append(names, m.Header)
				if m.Path != "/index.html" {
					t.Errorf("path = %q", m.Path)
				}
				if m.Missing != tc.missing {
					t.Errorf("missing = %v, want %v", m.Missing, tc.missing)
				}
				if !strings.Contains(m.String(), m.Header) || !strings.Contains(m.String(), "/index.html") {
					t.Errorf("String() does not name header and path: %s", m)
				}
				if tc.detail != "" && !strings.Contains(strings.Join(m.Details, "|"), tc.detail) {
					t.Errorf("details %q lack %q", m.Details, tc.detail)
				}
			}
			if diff := cmp.Diff(tc.headers, names); diff != "" {
				t.Errorf("mismatching headers (-want +got):\n%s\n%v", diff, ms)
			}
		})
	}
}

func TestParseCSP(t *testing.T) {
	t.Parallel()
	ps, err := ParseCSP("script-src 'SELF' HTTPS://CDN.Example/Path 'NONCE-AbC' 'Sha256-XyZ=' Data:; ; img-src *, default-src 'none'")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("policies = %d", len(ps))
	}
	d, _ := ps[0].Get("SCRIPT-SRC")
	want := []string{"'self'", "https://cdn.example/Path", "'nonce-AbC'", "'sha256-XyZ='", "data:"}
	if diff := cmp.Diff(want, d.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if _, err := ParseCSP(strings.Repeat("a", MaxPolicyBytes+1)); !errors.Is(err, ErrCSPTooLarge) {
		t.Errorf("huge CSP: %v", err)
	}
	if _, err := ParseCSP("script-src" + strings.Repeat(" a", MaxSources+1)); !errors.Is(err, ErrCSPTooLarge) {
		t.Errorf("many sources: %v", err)
	}
	var b strings.Builder
	for i := 0; i <= MaxDirectives; i++ {
		b.WriteString("d" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ";")
	}
	if _, err := ParseCSP(b.String()); !errors.Is(err, ErrCSPTooLarge) {
		t.Errorf("many directives: %v", err)
	}
	// Non-ASCII directives are ignored, as browsers ignore them.
	ps, _ = ParseCSP("script-src 'self'; img-src é")
	if len(ps[0].Directives) != 1 || ps[0].Ignored != 1 {
		t.Errorf("non-ASCII: %+v", ps)
	}
}

func TestParseDictionary(t *testing.T) {
	t.Parallel()
	good := []struct{ in, out string }{
		{`a=1, b=2`, `a=1, b=2`},
		{`camera=(), geolocation=(self "https://a.example")`, `camera=(), geolocation=(self "https://a.example")`},
		{`a, b;x=?0, c=?1`, `a, b;x=?0, c`},
		{`a=1, a=2`, `a=2`},
		{`a=1.50, b=-3, c=:aGVsbG8=:, d=@1659578233, e=%"f%c3%bc"`, `a=1.5, b=-3, c=:aGVsbG8=:, d=@1659578233, e=%"f%c3%bc"`},
		{`blocked-destinations=(script),endpoints=(default)`, `blocked-destinations=(script), endpoints=(default)`},
		{`  a=tok/en:x  `, `a=tok/en:x`},
		{`a=("x\"y" *z);p=1`, `a=("x\"y" *z);p=1`},
		{``, ``},
	}
	for _, tc := range good {
		d, err := ParseDictionary(tc.in)
		if err != nil {
			t.Errorf("ParseDictionary(%q): %v", tc.in, err)
			continue
		}
		if d.String() != tc.out {
			t.Errorf("ParseDictionary(%q) = %q, want %q", tc.in, d.String(), tc.out)
		}
		// Serialization round-trips.
		d2, err := ParseDictionary(d.String())
		if err != nil || d2.String() != d.String() {
			t.Errorf("round trip of %q: %q, %v", tc.in, d2.String(), err)
		}
	}
	bad := []string{
		`a=`, `A=1`, `a=1,`, `a=1 b=2`, `a=(1 2`, `a=(1,2)`, `a="unterminated`, `a="bad\q"`,
		`a=1234567890123456`, `a=1.2345`, `a=1.`, `a=1234567890123.5`, `a=:!!:`, `a=?2`, `a=@1.5`,
		`a=%"A%C3"`, `a=%"%ff"`, `a=é`, "a=\"\x01\"", `a=1;`, `a=(a)b`,
	}
	for _, in := range bad {
		if d, err := ParseDictionary(in); !errors.Is(err, ErrStructuredField) {
			t.Errorf("ParseDictionary(%q) = %q, %v; want an error", in, d.String(), err)
		}
	}
	if _, err := ParseDictionary(strings.Repeat("a", MaxPolicyBytes+1)); err == nil {
		t.Error("huge value accepted")
	}
}

func TestRequirements(t *testing.T) {
	t.Parallel()
	strict := Requirements{
		Require:                []string{"x-content-type-options"},
		RequireValues:          map[string]string{"Permissions-Policy": "camera=()"},
		ForbidScriptSources:    DefaultForbiddenScriptSources,
		RequireObjectSrcNone:   true,
		RequireIntegrityPolicy: true,
	}
	good := hdr("Content-Security-Policy", kmsCSP, "X-Content-Type-Options", "nosniff",
		"Permissions-Policy", "camera=()", "Integrity-Policy", "blocked-destinations=(script)")
	tests := []struct {
		name     string
		mutate   func(h http.Header)
		document bool
		want     []string // header of each violation
		detail   string
	}{
		{"strict page passes", func(h http.Header) {}, true, nil, ""},
		{"non-document skips CSP rules", func(h http.Header) { h.Del("Content-Security-Policy"); h.Del("Integrity-Policy") }, false, nil, ""},
		{"no nosniff", func(h http.Header) { h.Del("X-Content-Type-Options") }, false, []string{"X-Content-Type-Options"}, ""},
		{"permissions differ", func(h http.Header) { h.Set("Permissions-Policy", "camera=*") }, false, []string{"Permissions-Policy"}, ""},
		{"no CSP", func(h http.Header) { h.Del("Content-Security-Policy") }, true,
			[]string{"Content-Security-Policy", "Content-Security-Policy"}, "no enforced policy"},
		{"unsafe-inline", func(h http.Header) {
			h.Set("Content-Security-Policy", "script-src 'self' 'unsafe-inline'; object-src 'none'")
		}, true,
			[]string{"Content-Security-Policy"}, "'unsafe-inline'"},
		{"unsafe-inline with a hash is ignored by browsers", func(h http.Header) {
			h.Set("Content-Security-Policy", "script-src 'self' 'unsafe-inline' 'sha256-abc='; object-src 'none'")
		}, true, nil, ""},
		{"wildcard host", func(h http.Header) {
			h.Set("Content-Security-Policy", "script-src https://*.cdn.example; object-src 'none'")
		}, true,
			[]string{"Content-Security-Policy"}, "*.cdn.example"},
		{"scheme-only https", func(h http.Header) { h.Set("Content-Security-Policy", "default-src https:; object-src 'none'") }, true,
			[]string{"Content-Security-Policy"}, "https:"},
		{"data via default-src", func(h http.Header) { h.Set("Content-Security-Policy", "default-src 'self' data:; object-src 'none'") }, true,
			[]string{"Content-Security-Policy"}, "data:"},
		{"script-src-elem overrides script-src", func(h http.Header) {
			h.Set("Content-Security-Policy", "script-src *; script-src-elem 'self'; object-src 'none'")
		}, true, []string{"Content-Security-Policy"}, "*"}, // script-src * still allows eval-free * for workers? no: 'unsafe-eval' not present; "*" via script-src-elem? no
		{"a second strict policy restricts a loose one", func(h http.Header) {
			h.Add("Content-Security-Policy", "script-src * 'unsafe-inline'")
		}, true, nil, ""},
		{"report-only does not count", func(h http.Header) {
			h.Del("Content-Security-Policy")
			h.Set("Content-Security-Policy-Report-Only", kmsCSP)
		}, true, []string{"Content-Security-Policy", "Content-Security-Policy"}, ""},
		{"object-src via default-src none", func(h http.Header) { h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'") }, true, nil, ""},
		{"object-src self", func(h http.Header) { h.Set("Content-Security-Policy", "script-src 'self'; object-src 'self'") }, true,
			[]string{"Content-Security-Policy"}, "object-src"},
		{"no integrity policy", func(h http.Header) { h.Del("Integrity-Policy") }, true, []string{"Integrity-Policy"}, ""},
		{"integrity policy unparsable", func(h http.Header) { h.Set("Integrity-Policy", "blocked-destinations=(script") }, true,
			[]string{"Integrity-Policy"}, "does not parse"},
		{"integrity policy without inline source", func(h http.Header) { h.Set("Integrity-Policy", "blocked-destinations=(script), sources=()") }, true,
			[]string{"Integrity-Policy"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := good.Clone()
			tc.mutate(got)
			ms := strict.Check("/", got, tc.document)
			var names []string
			var all []string
			for _, m := range ms {
				names = append(names, m.Header)
				all = append(all, m.String())
			}
			if tc.name == "script-src-elem overrides script-src" {
				// script-src-elem 'self' governs elements; script-src * still
				// governs other script fetches, but the forbid check is about
				// elements, so only "*" would be flagged if script-src-elem
				// allowed it. It does not: no violation.
				if len(ms) != 0 {
					t.Errorf("violations = %v", all)
				}
				return
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, all)
			}
			if tc.detail != "" && !strings.Contains(strings.Join(all, "|"), tc.detail) {
				t.Errorf("violations %q lack %q", all, tc.detail)
			}
		})
	}
	if !(Requirements{}).Empty() || strict.Empty() {
		t.Error("Empty is wrong")
	}
	if ms := (Requirements{}).Check("/", http.Header{}, true); len(ms) != 0 {
		t.Errorf("zero policy found %v", ms)
	}
}

func TestWouldBlock(t *testing.T) {
	t.Parallel()
	enforced := ParseIntegrityPolicy(hdr("Integrity-Policy", "blocked-destinations=(script)"), false)
	report := ParseIntegrityPolicy(hdr("Integrity-Policy-Report-Only", "blocked-destinations=(script style)"), true)
	refs := []Subresource{
		{URL: "/ok-module.js", Element: "script", Type: "module", Integrity: "sha384-x"},
		{URL: "/ok-classic.js", Element: "script", Integrity: "sha384-x", HasCrossOrigin: true},
		{URL: "/no-integrity.js", Element: "script", Type: "module"},
		{URL: "/classic-no-cors.js", Element: "script", Integrity: "sha384-x"},
		{URL: "/preload.js", Element: "link", Rel: "modulepreload"},
		{URL: "/preload-ok.js", Element: "link", Rel: "modulepreload", Integrity: "sha384-x"},
		{URL: "/style.css", Element: "link", Rel: "stylesheet"},
		{URL: "/img.png", Element: "link", Rel: "preload", As: "image"},
	}
	var got []string
	for _, b := range WouldBlock(enforced, refs) {
		got = append(got, b.URL)
	}
	if diff := cmp.Diff([]string{"/no-integrity.js", "/classic-no-cors.js", "/preload.js"}, got); diff != "" {
		t.Errorf("enforced (-want +got):\n%s", diff)
	}
	got = nil
	for _, b := range WouldBlock(report, refs) {
		if !b.ReportOnly {
			t.Error("report-only not marked")
		}
		got = append(got, b.URL)
	}
	if diff := cmp.Diff([]string{"/no-integrity.js", "/classic-no-cors.js", "/preload.js", "/style.css"}, got); diff != "" {
		t.Errorf("report-only (-want +got):\n%s", diff)
	}
	if b := WouldBlock(ParseIntegrityPolicy(http.Header{}, false), refs); len(b) != 0 {
		t.Errorf("no policy blocked %v", b)
	}
}
