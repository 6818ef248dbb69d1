package headers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, text string, f Format) *Rules {
	t.Helper()
	r, err := Parse(strings.NewReader(text), f)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func flat(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = strings.Join(v, "\n")
	}
	return out
}

// cloudflareDoc is the example from Cloudflare's "Attach a header" section.
const cloudflareDoc = `# This is a comment
/secure/page
  X-Frame-Options: DENY
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer

/static/*
  Access-Control-Allow-Origin: *
  X-Robots-Tag: nosnippet

https://myproject.pages.dev/*
  X-Robots-Tag: noindex
`

// TestCloudflareDocumentedTable reproduces the request/headers table of the
// Cloudflare documentation.
func TestCloudflareDocumentedTable(t *testing.T) {
	t.Parallel()
	rules := mustParse(t, cloudflareDoc, Cloudflare)
	if len(rules.Warnings) != 0 {
		t.Fatalf("warnings: %v", rules.Warnings)
	}
	tests := []struct {
		url  string
		want map[string]string
	}{
		{"https://custom.domain/secure/page", map[string]string{
			"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}},
		{"https://custom.domain/static/image.jpg", map[string]string{
			"Access-Control-Allow-Origin": "*", "X-Robots-Tag": "nosnippet"}},
		{"https://myproject.pages.dev/home", map[string]string{"X-Robots-Tag": "noindex"}},
		{"https://myproject.pages.dev/secure/page", map[string]string{
			"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}},
		{"https://myproject.pages.dev/static/styles.css", map[string]string{
			"Access-Control-Allow-Origin": "*", "X-Robots-Tag": "nosnippet, noindex"}},
		// The host ignores the port and scheme of the request.
		{"http://myproject.pages.dev:8443/home", map[string]string{"X-Robots-Tag": "noindex"}},
		{"https://custom.domain/secure/page/more", map[string]string{}},
		{"https://custom.domain/Secure/page", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			if diff := cmp.Diff(tc.want, flat(rules.ForURL(u))); diff != "" {
				t.Errorf("ForURL (-want +got):\n%s", diff)
			}
		})
	}
	// Without a host, absolute-URL rules never apply.
	if got := rules.For("/home"); len(got) != 0 {
		t.Errorf("For(/home) = %v, want none", got)
	}
}

func TestCloudflareDetachAndPlaceholders(t *testing.T) {
	t.Parallel()
	rules := mustParse(t, `/*
  Content-Security-Policy: default-src 'self';

/*.jpg
  ! Content-Security-Policy

/movies/:title
  x-movie-name: You are watching ":title"

/files/*
  X-Path: got :splat

https://:project.pages.dev/*
  Access-Control-Allow-Origin: https://staging.:project.pages.dev/
`, Cloudflare)
	if len(rules.Warnings) != 0 {
		t.Fatalf("warnings: %v", rules.Warnings)
	}
	csp := "default-src 'self';"
	tests := []struct {
		host, path string
		want       map[string]string
		detached   []string
	}{
		{"", "/index.html", map[string]string{"Content-Security-Policy": csp}, nil},
		{"", "/img/a.jpg", map[string]string{}, []string{"Content-Security-Policy"}},
		{"", "/movies/up", map[string]string{"Content-Security-Policy": csp, "X-Movie-Name": `You are watching "up"`}, nil},
		{"", "/movies/up/extra", map[string]string{"Content-Security-Policy": csp}, nil},
		{"", "/files/a/b.txt", map[string]string{"Content-Security-Policy": csp, "X-Path": "got a/b.txt"}, nil},
		{"kms.pages.dev", "/x", map[string]string{"Content-Security-Policy": csp, "Access-Control-Allow-Origin": "https://staging.kms.pages.dev/"}, nil},
		// A host placeholder stops at a dot.
		{"a.b.pages.dev", "/x", map[string]string{"Content-Security-Policy": csp}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			m := rules.Resolve(tc.host, tc.path)
			if diff := cmp.Diff(tc.want, flat(m.Header)); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.detached, m.Detached); diff != "" {
				t.Errorf("detached (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCloudflareDetachOrder: a detach removes only what earlier rules set;
// a detach above the rule it targets does nothing, and a later set after a
// detach replaces.
func TestCloudflareDetachOrder(t *testing.T) {
	t.Parallel()
	above := mustParse(t, "/lwe/q.txt\n  ! Cache-Control\n  Cache-Control: public, max-age=604800\n/lwe/*\n  Cache-Control: max-age=0\n", Cloudflare)
	if got := above.For("/lwe/q.txt").Get("Cache-Control"); got != "public, max-age=604800, max-age=0" {
		t.Errorf("detach above: got %q", got)
	}
	below := mustParse(t, "/lwe/*\n  Cache-Control: max-age=0\n/lwe/q.txt\n  ! Cache-Control\n  Cache-Control: public, max-age=604800\n", Cloudflare)
	if got := below.For("/lwe/q.txt").Get("Cache-Control"); got != "public, max-age=604800" {
		t.Errorf("detach below: got %q", got)
	}
}

func TestNetlifyCombination(t *testing.T) {
	t.Parallel()
	// Netlify's documented example, plus an overlapping wildcard rule.
	rules := mustParse(t, `# a path:
/templates/index.html
  # headers for that path:
  X-Frame-Options: DENY
  X-XSS-Protection: 1; mode=block
# another path:
/templates/index2.html
  # headers for that path:
  X-Frame-Options: SAMEORIGIN
# multi-value header:
/*
  cache-control: max-age=0
  cache-control: no-cache
  cache-control: no-store
  cache-control: must-revalidate
/templates/*
  X-Frame-Options: SAMEORIGIN
/items/:id/edit
  X-Edit: yes
`, Netlify)
	if len(rules.Warnings) != 0 {
		t.Fatalf("warnings: %v", rules.Warnings)
	}
	cc := "max-age=0, no-cache, no-store, must-revalidate"
	tests := []struct {
		path string
		want map[string]string
	}{
		// The later matching rule replaces X-Frame-Options: DENY.
		{"/templates/index.html", map[string]string{"X-Frame-Options": "SAMEORIGIN", "X-Xss-Protection": "1; mode=block", "Cache-Control": cc}},
		{"/TEMPLATES/index.html/", map[string]string{"X-Frame-Options": "SAMEORIGIN", "X-Xss-Protection": "1; mode=block", "Cache-Control": cc}},
		{"/", map[string]string{"Cache-Control": cc}},
		{"/items/7/edit", map[string]string{"Cache-Control": cc, "X-Edit": "yes"}},
		{"/items/7/8/edit", map[string]string{"Cache-Control": cc}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, flat(rules.For(tc.path))); diff != "" {
				t.Errorf("For (-want +got):\n%s", diff)
			}
		})
	}
	// The same file read as Cloudflare joins instead of replacing.
	cf := mustParse(t, "/templates/*\n  X-Frame-Options: DENY\n/templates/*.html\n  X-Frame-Options: SAMEORIGIN\n", Cloudflare)
	if got := cf.For("/templates/a.html").Get("X-Frame-Options"); got != "DENY, SAMEORIGIN" {
		t.Errorf("cloudflare join: %q", got)
	}
	nf := mustParse(t, "/templates/*\n  X-Frame-Options: DENY\n/templates/*.html\n  X-Frame-Options: SAMEORIGIN\n", Netlify)
	if got := nf.For("/templates/a.html").Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("netlify override: %q", got)
	}
}

// TestInvalidLinesAreSkipped: the hosts deploy a file with bad lines and
// ignore those lines; the parser does the same and says so.
func TestInvalidLinesAreSkipped(t *testing.T) {
	t.Parallel()
	long := "/long\n  X-Long: " + strings.Repeat("a", 2000) + "\n"
	tests := []struct {
		name, text string
		format     Format
		path       string
		want       map[string]string
		warnings   int
	}{
		{"header before path", "X-A: 1\n/a\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 1},
		{"http absolute", "http://example.com/*\n  X-A: 1\n/a\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 2},
		{"port", "https://example.com:8443/*\n  X-A: 1\n", Cloudflare, "/a", map[string]string{}, 2},
		{"two splats", "/*/x/*\n  X-A: 1\n", Cloudflare, "/a/x/b", map[string]string{}, 2},
		{"repeated placeholder", "/:a/:a\n  X-A: 1\n", Cloudflare, "/b/c", map[string]string{}, 2},
		{"no colon", "/a\n  just words\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 1},
		{"space in name", "/a\n  X Y: 1\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 1},
		{"empty value", "/a\n  X-A:\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 1},
		{"no headers", "/a\n/b\n  X-B: 2\n", Cloudflare, "/a", map[string]string{}, 1},
		{"long line", long + "/a\n  X-B: 2\n", Cloudflare, "/long", map[string]string{}, 2},
		{"netlify detach", "/a\n  ! X-A\n  X-B: 2\n", Netlify, "/a", map[string]string{"X-B": "2"}, 1},
		{"netlify absolute", "https://x.example/*\n  X-A: 1\n", Netlify, "/a", map[string]string{}, 2},
		{"control char", "/a\n  X-A: a\x00b\n  X-B: 2\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 1},
		{"crlf", "/a\r\n  X-B: 2\r\n", Cloudflare, "/a", map[string]string{"X-B": "2"}, 0},
		{"netlify host header", "/a\n  Content-Length: 5\n  Date: x\n  X-B: 2\n", Netlify, "/a", map[string]string{"X-B": "2"}, 2},
		{"cloudflare keeps it", "/a\n  Server: x\n", Cloudflare, "/a", map[string]string{"Server": "x"}, 0},
		{"value with colons", "/a\n  Link: <https://x.example/>; rel=preconnect\n", Cloudflare, "/a", map[string]string{"Link": "<https://x.example/>; rel=preconnect"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rules := mustParse(t, tc.text, tc.format)
			if diff := cmp.Diff(tc.want, flat(rules.For(tc.path))); diff != "" {
				t.Errorf("For (-want +got):\n%s", diff)
			}
			if len(rules.Warnings) != tc.warnings {
				t.Errorf("warnings = %v, want %d", rules.Warnings, tc.warnings)
			}
		})
	}
}

func TestRuleLimit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; i < 150; i++ {
		b.WriteString("/r" + strings.Repeat("x", i) + "\n  X-A: 1\n")
	}
	rules := mustParse(t, b.String(), Cloudflare)
	if len(rules.Rules) != MaxRulesCloudflare {
		t.Errorf("rules = %d, want %d", len(rules.Rules), MaxRulesCloudflare)
	}
	if len(rules.Warnings) != 1 {
		t.Errorf("warnings = %v", rules.Warnings)
	}
}

func TestHostileFiles(t *testing.T) {
	t.Parallel()
	if _, err := Parse(strings.NewReader(strings.Repeat("a", MaxFileBytes+1)), Cloudflare); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge file: err = %v, want ErrTooLarge", err)
	}
	if _, err := Parse(strings.NewReader(strings.Repeat("\n", MaxFileLines+1)), Cloudflare); !errors.Is(err, ErrTooLarge) {
		t.Errorf("many lines: err = %v, want ErrTooLarge", err)
	}
	// One line of a megabyte with no newline: refused or ignored, never a hang.
	rules, err := Parse(strings.NewReader("/"+strings.Repeat("*", MaxFileBytes-1)), Cloudflare)
	if err != nil || len(rules.Rules) != 0 {
		t.Errorf("one long line: rules=%v err=%v", rules, err)
	}
	// Value substitution cannot grow a value without bound.
	rules = mustParse(t, "/*\n  X-A: "+strings.Repeat(":splat", 300)+"\n", Cloudflare)
	if got := rules.For("/" + strings.Repeat("y", 3000)).Get("X-A"); len(got) > MaxValueBytes {
		t.Errorf("substituted value is %d bytes", len(got))
	}
	if _, err := Parse(strings.NewReader(""), "apache"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"": Cloudflare, "Cloudflare": Cloudflare, "netlify": Netlify} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("vercel"); err == nil {
		t.Error("vercel accepted")
	}
}
