package headers

import (
	"net/http"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/FuzzX/ and run in every
// `go test`; `go test -fuzz FuzzX` explores further.

func FuzzParse(f *testing.F) {
	f.Add(cloudflareDoc, "/static/a.css", false)
	f.Add("/a\n  ! X-A\n  X-B: :splat\n", "/a", true)
	f.Fuzz(func(t *testing.T, text, path string, netlify bool) {
		format := Cloudflare
		if netlify {
			format = Netlify
		}
		rules, err := Parse(strings.NewReader(text), format)
		if err != nil {
			return
		}
		if len(rules.Warnings) > MaxWarnings {
			t.Fatalf("%d warnings", len(rules.Warnings))
		}
		for _, r := range rules.Rules {
			if r.re == nil || len(r.Set)+len(r.Unset) == 0 {
				t.Fatalf("rule %+v kept without a matcher or headers", r)
			}
		}
		m := rules.Resolve("example.com", path)
		for name, vs := range m.Header {
			if len(vs) != 1 || len(vs[0]) > MaxValueBytes*(MaxRulesNetlify+1) {
				t.Fatalf("%s = %d values", name, len(vs))
			}
			if !headerNameRE().MatchString(name) {
				t.Fatalf("invalid header name %q", name)
			}
		}
	})
}

func FuzzParseCSP(f *testing.F) {
	f.Add(kmsCSP)
	f.Add("script-src 'self', default-src 'none'")
	f.Fuzz(func(t *testing.T, value string) {
		ps, err := ParseCSP(value)
		if err != nil {
			return
		}
		// A policy equals itself; its serialization parses to the same policy.
		if d, err := DiffCSP(value, value); err != nil || len(d) != 0 {
			t.Fatalf("DiffCSP(v, v) = %v, %v", d, err)
		}
		for _, p := range ps {
			again, err := ParseCSP(p.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", p.String(), err)
			}
			if len(p.Directives) == 0 {
				continue
			}
			if len(again) != 1 || again[0].canonical() != p.canonical() {
				t.Fatalf("round trip %q -> %q", p.canonical(), again)
			}
		}
		_ = Requirements{ForbidScriptSources: DefaultForbiddenScriptSources, RequireObjectSrcNone: true}.
			Check("/", http.Header{"Content-Security-Policy": {value}}, true)
	})
}

func FuzzParseDictionary(f *testing.F) {
	f.Add(`camera=(), geolocation=(self "https://a.example")`)
	f.Add(`blocked-destinations=(script), endpoints=(default)`)
	f.Fuzz(func(t *testing.T, value string) {
		d, err := ParseDictionary(value)
		if err != nil {
			return
		}
		s := d.String()
		d2, err := ParseDictionary(s)
		if err != nil {
			t.Fatalf("serialization %q of %q does not parse: %v", s, value, err)
		}
		if d2.String() != s {
			t.Fatalf("round trip %q -> %q", s, d2.String())
		}
		if diff, err := DiffDictionary(value, value); err != nil || len(diff) != 0 {
			t.Fatalf("DiffDictionary(v, v) = %v, %v", diff, err)
		}
		ip := ParseIntegrityPolicy(http.Header{"Integrity-Policy": {value}}, false)
		_ = WouldBlock(ip, []Subresource{{Element: "script"}, {Element: "link", Rel: "modulepreload"}})
	})
}
