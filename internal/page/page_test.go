package page

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

var docURL = mustURL("https://kms.example.com/app/index.html")

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestDeclarations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		html string
		want []Declaration
	}{
		{name: "empty page", html: "", want: nil},
		{name: "script with integrity", html: `<script src="/kms.js" integrity="sha384-abc" crossorigin="anonymous" type="module"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "/kms.js", URL: "https://kms.example.com/kms.js", Integrity: "sha384-abc", Type: "module", CrossOrigin: "anonymous"}}},
		{name: "script without integrity", html: `<script src="w.js"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "w.js", URL: "https://kms.example.com/app/w.js"}}},
		{name: "inline script ignored", html: `<script>var s = '<script src="x.js" integrity="sha256-x">';</script>`, want: nil},
		{name: "upper-case tags and attrs", html: `<SCRIPT SRC="A.js" INTEGRITY="sha256-Q"></SCRIPT>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "A.js", URL: "https://kms.example.com/app/A.js", Integrity: "sha256-Q"}}},
		{name: "duplicate attribute first wins", html: `<script src="good.js" src="evil.js" integrity="sha256-a" integrity="sha256-b"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "good.js", URL: "https://kms.example.com/app/good.js", Integrity: "sha256-a"}}},
		{name: "unquoted and entity attrs", html: `<script src=a.js?x=1&amp;y=2 integrity=sha256-z></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "a.js?x=1&y=2", URL: "https://kms.example.com/app/a.js?x=1&y=2", Integrity: "sha256-z"}}},
		{name: "whitespace around url trimmed", html: "<script src=\" \n/k.js\t\"></script>",
			want: []Declaration{{Element: "script", Attr: "src", Ref: " \n/k.js\t", URL: "https://kms.example.com/k.js"}}},
		{name: "link rels", html: `<link rel="stylesheet" href="s.css" integrity="sha384-s">
<link rel="icon" href="favicon.ico">
<link rel="MODULEPRELOAD" href="/m.mjs">
<link rel="preload prefetch" as="script" href="p.js">
<link rel="prefetch" href="nope.js">
<link rel="stylesheet">`,
			want: []Declaration{
				{Element: "link", Attr: "href", Ref: "s.css", URL: "https://kms.example.com/app/s.css", Integrity: "sha384-s", Rel: "stylesheet"},
				{Element: "link", Attr: "href", Ref: "/m.mjs", URL: "https://kms.example.com/m.mjs", Rel: "MODULEPRELOAD"},
				{Element: "link", Attr: "href", Ref: "p.js", URL: "https://kms.example.com/app/p.js", Rel: "preload prefetch"},
			}},
		{name: "base href applies from first base on", html: `<script src="before.js"></script>
<base href="https://cdn.example.net/v1/"><base href="https://evil.example/">
<script src="after.js"></script>`,
			want: []Declaration{
				{Element: "script", Attr: "src", Ref: "before.js", URL: "https://kms.example.com/app/before.js"},
				{Element: "script", Attr: "src", Ref: "after.js", URL: "https://cdn.example.net/v1/after.js"},
			}},
		{name: "relative base", html: `<base href="../static/"><script src="k.js"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "k.js", URL: "https://kms.example.com/static/k.js"}}},
		{name: "base without href does not count", html: `<base target="_blank"><base href="/x/"><script src="k.js"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "k.js", URL: "https://kms.example.com/x/k.js"}}},
		{name: "importmap integrity in order", html: `<script type="importmap">
{"imports": {"kms": "/kms-v1.mjs"},
 "integrity": {"/kms-v1.mjs": "sha384-one", "https://cdn.example.net/w.js": "sha384-two", "bare": "sha384-three", "./n.js": 5}}
</script>`,
			want: []Declaration{
				{Element: "importmap", Ref: "/kms-v1.mjs", URL: "https://kms.example.com/kms-v1.mjs", Integrity: "sha384-one"},
				{Element: "importmap", Ref: "https://cdn.example.net/w.js", URL: "https://cdn.example.net/w.js", Integrity: "sha384-two"},
				{Element: "importmap", Ref: "bare", Integrity: "sha384-three"},
			}},
		{name: "importmap duplicate key last value wins", html: `<script type=" ImportMap "> {"integrity": {"/a.js": "sha384-old", "/b.js": "sha384-b", "/a.js": "sha384-new"}} </script>`,
			want: []Declaration{
				{Element: "importmap", Ref: "/a.js", URL: "https://kms.example.com/a.js", Integrity: "sha384-new"},
				{Element: "importmap", Ref: "/b.js", URL: "https://kms.example.com/b.js", Integrity: "sha384-b"},
			}},
		{name: "invalid importmap ignored", html: `<script type="importmap">{"integrity": {"/a.js": "sha384-x"</script><script src="z.js"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "z.js", URL: "https://kms.example.com/app/z.js"}}},
		{name: "importmap integrity not an object", html: `<script type="importmap">{"integrity": ["/a.js"]}</script>`, want: nil},
		{name: "importmap with src ignored", html: `<script type="importmap" src="map.json"></script>`, want: nil},
		{name: "self-closing script is still raw text", html: `<script type="importmap"/>{"integrity":{"/a.js":"sha384-a"}}</script><script src="x.js"/><script src="hidden.js"></script>`,
			want: []Declaration{
				{Element: "importmap", Ref: "/a.js", URL: "https://kms.example.com/a.js", Integrity: "sha384-a"},
				{Element: "script", Attr: "src", Ref: "x.js", URL: "https://kms.example.com/app/x.js"},
			}},
		{name: "empty importmap", html: `<script type="importmap"></script>`, want: nil},
		{name: "comments hide declarations", html: `<!-- <script src="c.js"></script> --><script src="d.js"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "d.js", URL: "https://kms.example.com/app/d.js"}}},
		{name: "raw text elements hide declarations", html: `<textarea><script src="t.js"></script></textarea><title><link rel=stylesheet href=x.css></title>`, want: nil},
		{name: "empty src has no url", html: `<script src=""></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: ""}}},
		{name: "unparsable url", html: `<script src="https://[::1"></script>`,
			want: []Declaration{{Element: "script", Attr: "src", Ref: "https://[::1"}}},
		{name: "unterminated tag", html: `<script src="a.js" integrity="sha256-`, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Declarations(strings.NewReader(tc.html), docURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want { // none of these cases has an empty integrity attribute
				tc.want[i].HasIntegrity = tc.want[i].Integrity != ""
			}
			// HasCrossOrigin and As have their own test (TestCrossOriginPresence).
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Declaration{}, "HasCrossOrigin", "As")); diff != "" {
				t.Errorf("Declarations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeclarationsNilBase(t *testing.T) {
	t.Parallel()
	got, err := Declarations(strings.NewReader(`<script src="rel.js"></script><script src="https://a.example/x.js"></script>`), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Declaration{
		{Element: "script", Attr: "src", Ref: "rel.js"},
		{Element: "script", Attr: "src", Ref: "https://a.example/x.js", URL: "https://a.example/x.js"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDeclarationsLimits(t *testing.T) {
	t.Parallel()
	many := strings.Repeat(`<script src="a.js"></script>`, MaxDeclarations+1)
	tests := []struct {
		name       string
		html       string
		max        int64
		wantReason string
	}{
		{name: "over max bytes", html: strings.Repeat("a", 101), max: 100, wantReason: "too-large"},
		{name: "too many declarations", html: many, max: int64(len(many)), wantReason: "page-too-complex"},
		{name: "too many elements", html: strings.Repeat("<b>", MaxElements+1), max: 4 * MaxElements, wantReason: "page-too-complex"},
		{name: "huge token", html: "<!--" + strings.Repeat("x", MaxTokenBytes+10), max: 2 * MaxTokenBytes, wantReason: "page-too-complex"},
		{name: "too many importmap entries", html: `<script type="importmap">{"integrity":{` + importEntries(MaxDeclarations+1) + `}}</script>`, max: 1 << 22, wantReason: "page-too-complex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Declarations(strings.NewReader(tc.html), docURL, tc.max)
			if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != tc.wantReason {
				t.Fatalf("err = %v (reason %q), want reason %q", err, verdict.ReasonOf(err), tc.wantReason)
			}
			if got != nil {
				t.Errorf("got %d declarations with an error", len(got))
			}
		})
	}
	// Exactly at the byte limit is accepted.
	exact := `<script src="a.js"></script>`
	if _, err := Declarations(strings.NewReader(exact), docURL, int64(len(exact))); err != nil {
		t.Fatalf("page at exactly max: %v", err)
	}
}

func importEntries(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"/m` + strconv.Itoa(i) + `.js":"sha384-x"`)
	}
	return b.String()
}

func FuzzDeclarations(f *testing.F) {
	for _, seed := range []string{
		"",
		`<script src="/a.js" integrity="sha384-x"></script>`,
		`<base href="//x/"><link rel="stylesheet preload" href="s.css">`,
		`<script type="importmap">{"integrity":{"/a.js":"sha384-a","b":1}}</script>`,
		`<script type=importmap>{"integrity":{"/a.js":"sha384-a"`,
		`<scr<script src=a.js>ipt>`,
		"<svg><script href=x.js></script></svg><math><mi><link rel=stylesheet href=q>",
		"\x00<\xff script src=\x00>",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decls, err := Declarations(bytes.NewReader(data), docURL, 1<<16)
		if err != nil {
			if !errors.Is(err, verdict.ErrInconclusive) {
				t.Fatalf("unclassed error: %v", err)
			}
			return
		}
		if len(decls) > MaxDeclarations {
			t.Fatalf("%d declarations", len(decls))
		}
		for _, d := range decls {
			switch d.Element {
			case "script", "link":
				if d.Attr == "" {
					t.Fatalf("missing attr: %+v", d)
				}
			case "importmap":
				if d.Attr != "" {
					t.Fatalf("importmap with attr: %+v", d)
				}
			default:
				t.Fatalf("unexpected element %q", d.Element)
			}
			if d.URL != "" {
				u, err := url.Parse(d.URL)
				if err != nil || !u.IsAbs() {
					t.Fatalf("URL %q not absolute: %v", d.URL, err)
				}
			}
		}
	})
}

// TestCrossOriginPresence: an empty crossorigin attribute is present
// (anonymous), which decides the request mode Integrity-Policy looks at.
func TestCrossOriginPresence(t *testing.T) {
	t.Parallel()
	got, err := Declarations(strings.NewReader(`<script src=a.js crossorigin></script><script src=b.js></script><link rel=preload as=script href=c.js crossorigin=use-credentials>`), docURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].HasCrossOrigin || got[1].HasCrossOrigin || !got[2].HasCrossOrigin || got[2].As != "script" {
		t.Errorf("got %+v", got)
	}
}
