package site

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestValidatePath(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"index.html", "assets/kms.3a5b9f2e.mjs", ".well-known/kms-manifest.json", "ü/ñ.js", "a b.js"} {
		if err := ValidatePath(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/../b", "a//b", "./a", "a\\b", "a\nb", "a\x1b[31mb", "a\u2028b", "a\x85b", string([]byte{0xff}), strings.Repeat("a", MaxPathBytes+1)} {
		if err := ValidatePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	co := t.TempDir()
	write(t, co, map[string]string{
		"dist/index.html": "<p>", "dist/a/app.js": "1", "dist/a/app.js.map": "{}", "dist/_headers": "/*\n  X: y\n",
		"dist/_worker.js/index.js": "w", "dist/.well-known/m.json": "{}", "src/other.js": "not in the site",
	})
	tree, err := Walk(co, "dist", Filter{Exclude: []string{"**/*.map", ".well-known/m.json"}}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	var files, skipped []string
	for _, f := range tree.Files {
		files = append(files, f.Path)
	}
	for _, s := range tree.Skipped {
		skipped = append(skipped, s.Path+":"+map[bool]string{true: "host", false: "excluded"}[s.HostConfig])
	}
	if got := strings.Join(files, ","); got != "a/app.js,index.html" {
		t.Errorf("files %s", got)
	}
	if got := strings.Join(skipped, ","); got != ".well-known/m.json:excluded,_headers:host,_worker.js/index.js:host,a/app.js.map:excluded" {
		t.Errorf("skipped %s", got)
	}
	if h, ok := tree.HostConfig("_headers"); !ok || h.Path != "_headers" {
		t.Error("_headers not found as host configuration")
	}
	f, err := tree.Open("_headers")
	if err != nil {
		t.Fatalf("open _headers: %v", err)
	}
	f.Close()
	inc, err := Walk(co, "dist", Filter{Include: []string{"a/**"}}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer inc.Close()
	if len(inc.Files) != 2 { // app.js and app.js.map
		t.Errorf("include: %+v", inc.Files)
	}
}

func TestWalkRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, co string)
		dir    string
		filter Filter
		max    int64
		reason string
	}{
		{name: "a symlink in the output", setup: func(t *testing.T, co string) {
			write(t, co, map[string]string{"dist/a.js": "1"})
			if err := os.Symlink("/proc/self/environ", filepath.Join(co, "dist", "env.js")); err != nil {
				t.Fatal(err)
			}
		}, dir: "dist", reason: ReasonSiteUnreadable},
		{name: "the output folder is a symlink", setup: func(t *testing.T, co string) {
			write(t, co, map[string]string{"real/a.js": "1"})
			if err := os.Symlink(filepath.Join(co, "real"), filepath.Join(co, "dist")); err != nil {
				t.Fatal(err)
			}
		}, dir: "dist", reason: ReasonSiteUnreadable},
		{name: "a missing folder", setup: func(t *testing.T, co string) {}, dir: "dist", reason: ReasonSiteUnreadable},
		{name: "a file name with a newline", setup: func(t *testing.T, co string) {
			write(t, co, map[string]string{"dist/a\nb.js": "1"})
		}, dir: "dist", reason: ReasonSiteBadName},
		{name: "nothing left to verify", setup: func(t *testing.T, co string) {
			write(t, co, map[string]string{"dist/a.map": "1", "dist/_headers": ""})
		}, dir: "dist", filter: Filter{Exclude: []string{"*.map"}}, reason: ReasonSiteEmpty},
		{name: "a file over the size bound", setup: func(t *testing.T, co string) {
			write(t, co, map[string]string{"dist/big.js": "0123456789"})
		}, dir: "dist", max: 5, reason: ReasonSiteTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co := t.TempDir()
			tc.setup(t, co)
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			tree, err := Walk(co, tc.dir, tc.filter, max)
			if err == nil {
				tree.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != tc.reason {
				t.Errorf("err %v (reason %q), want reason %q", err, verdict.ReasonOf(err), tc.reason)
			}
		})
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://kms.example.com/app/")
	for _, tc := range []struct{ rel, file, dir string }{
		{"index.html", "https://kms.example.com/app/index.html", "https://kms.example.com/app/"},
		{"a b/ü#?.js", "https://kms.example.com/app/a%20b/%C3%BC%23%3F.js", ""},
		{"docs/index.html", "https://kms.example.com/app/docs/index.html", "https://kms.example.com/app/docs/"},
	} {
		if got := FileURL(base, tc.rel); got != tc.file {
			t.Errorf("FileURL(%q) = %q, want %q", tc.rel, got, tc.file)
		}
		if got := DirURL(base, tc.rel); got != tc.dir {
			t.Errorf("DirURL(%q) = %q, want %q", tc.rel, got, tc.dir)
		}
	}
	// A page that names the file by its raw UTF-8 name resolves to the same key.
	if Key("https://KMS.example.com:443/app/ü.js#x") != Key(FileURL(base, "ü.js")) {
		t.Error("keys differ for the same file")
	}
	if Key("https://kms.example.com/a.js?v=1") == Key("https://kms.example.com/a.js") {
		t.Error("the query string must count")
	}
	for _, no := range []string{"data:text/javascript,1", "javascript:1", "/rel.js", "ftp://x/y"} {
		if Key(no) != "" {
			t.Errorf("Key(%q) = %q", no, Key(no))
		}
	}
}

func sum(t *testing.T, s string) digest.Sum {
	t.Helper()
	d, err := digest.Reader(strings.NewReader(s), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAccount is the accounting decision, one reference at a time.
func TestAccount(t *testing.T) {
	t.Parallel()
	app := sum(t, "app")
	scope := Scope{
		Files:  map[string]string{Key("https://kms.example.com/app.js"): "release file app.js", Key("https://kms.example.com/frame.html"): "release file frame.html"},
		Pins:   []Pin{{Name: "app.js", Sum: app}},
		Allow:  []Allowed{{URL: "https://fonts.example.net/*"}, {URL: "https://cdn.example.net/lib.js", Integrity: "sha384-AAAA"}, {URL: "https://cdn.example.net/any/*", RequireIntegrity: true}},
		Frames: []string{"https://enclave.example.net", "https://docs.example.org/embed/*"},
		Home:   "https://kms.example.com/",
	}
	pinned := app.SRI("sha384")
	for _, tc := range []struct {
		name   string
		ref    page.Reference
		scope  func(Scope) Scope
		status verdict.Status
	}{
		{"a release file", page.Reference{Kind: page.KindModule, Ref: "/app.js", URL: "https://kms.example.com/app.js"}, nil, verdict.StatusPass},
		{"a release file with a query", page.Reference{Kind: page.KindModule, Ref: "/app.js?v=2", URL: "https://kms.example.com/app.js?v=2"}, nil, verdict.StatusFail},
		{"an unlisted script", page.Reference{Kind: page.KindScript, Ref: "https://evil.example/steal.js", URL: "https://evil.example/steal.js"}, nil, verdict.StatusFail},
		{"a cross-URL pin of rebuilt bytes", page.Reference{Kind: page.KindScript, Ref: "https://mirror.example/app.js", URL: "https://mirror.example/app.js", Integrity: pinned, HasIntegrity: true}, nil, verdict.StatusPass},
		{"a pin that also allows other bytes", page.Reference{Kind: page.KindScript, Ref: "https://mirror.example/app.js", URL: "https://mirror.example/app.js", Integrity: pinned + " " + sum(t, "evil").SRI("sha384"), HasIntegrity: true}, nil, verdict.StatusFail},
		{"a pin on a frame is not enforced", page.Reference{Kind: page.KindFrame, Ref: "https://mirror.example/", URL: "https://mirror.example/", Integrity: pinned, HasIntegrity: true}, nil, verdict.StatusFail},
		{"an allowed prefix", page.Reference{Kind: page.KindStylesheet, Ref: "https://fonts.example.net/a.css", URL: "https://fonts.example.net/a.css"}, nil, verdict.StatusPass},
		{"an allowed exact pin, satisfied", page.Reference{Kind: page.KindScript, URL: "https://cdn.example.net/lib.js", Ref: "x", Integrity: "sha384-AAAA", HasIntegrity: true}, nil, verdict.StatusPass},
		{"an allowed exact pin, another value", page.Reference{Kind: page.KindScript, URL: "https://cdn.example.net/lib.js", Ref: "x", Integrity: "sha384-BBBB", HasIntegrity: true}, nil, verdict.StatusFail},
		{"an allowed exact pin, weaker alg beside a stronger", page.Reference{Kind: page.KindScript, URL: "https://cdn.example.net/lib.js", Ref: "x", Integrity: "sha384-AAAA sha512-CCCC", HasIntegrity: true}, nil, verdict.StatusFail},
		{"require-integrity without one", page.Reference{Kind: page.KindScript, URL: "https://cdn.example.net/any/x.js", Ref: "x"}, nil, verdict.StatusFail},
		{"require-integrity with one", page.Reference{Kind: page.KindScript, URL: "https://cdn.example.net/any/x.js", Ref: "x", Integrity: "sha256-x", HasIntegrity: true}, nil, verdict.StatusPass},
		{"inline code on an unrebuilt page", page.Reference{Kind: page.KindInlineScript, Ref: "x()"}, nil, verdict.StatusFail},
		{"inline code accepted explicitly", page.Reference{Kind: page.KindInlineScript, Ref: "x()"}, func(s Scope) Scope { s.AllowInline = true; return s }, verdict.StatusSkipped},
		{"inline code of a compared page", page.Reference{Kind: page.KindEventHandler, Ref: "x()"}, func(s Scope) Scope { s.InlineVerified = true; return s }, verdict.StatusPass},
		{"a data: script is inline", page.Reference{Kind: page.KindScript, Ref: "data:text/javascript,x()", URL: "data:text/javascript,x()"}, nil, verdict.StatusFail},
		{"a base within the site", page.Reference{Kind: page.KindBase, Ref: "/v1/", URL: "https://kms.example.com/v1/"}, nil, verdict.StatusPass},
		{"a base elsewhere", page.Reference{Kind: page.KindBase, Ref: "https://evil.example/", URL: "https://evil.example/"}, nil, verdict.StatusFail},
		{"a base on a look-alike host", page.Reference{Kind: page.KindBase, Ref: "x", URL: "https://kms.example.com.evil.example/"}, nil, verdict.StatusFail},
		{"a refresh elsewhere", page.Reference{Kind: page.KindRefresh, Ref: "x", URL: "https://evil.example/"}, nil, verdict.StatusFail},
		{"a refresh to a release page", page.Reference{Kind: page.KindRefresh, Ref: "x", URL: "https://kms.example.com/frame.html"}, nil, verdict.StatusPass},
		{"a listed frame origin", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://enclave.example.net/kms.html"}, nil, verdict.StatusPass},
		{"a listed frame prefix", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://docs.example.org/embed/a"}, nil, verdict.StatusPass},
		{"outside a listed frame prefix", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://docs.example.org/other"}, nil, verdict.StatusFail},
		{"a look-alike frame origin", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://enclave.example.net.evil.example/"}, nil, verdict.StatusFail},
		{"a same-origin frame of the release", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://kms.example.com/frame.html"}, nil, verdict.StatusPass},
		{"a same-origin frame outside the release", page.Reference{Kind: page.KindFrame, Ref: "x", URL: "https://kms.example.com/admin.html"}, nil, verdict.StatusFail},
		{"about:blank", page.Reference{Kind: page.KindFrame, Ref: "about:blank", URL: "about:blank"}, nil, verdict.StatusPass},
		{"an import map prefix within the site", page.Reference{Kind: page.KindImportMap, Ref: "/vendor/", URL: "https://kms.example.com/vendor/"}, nil, verdict.StatusPass},
		{"an import map address elsewhere", page.Reference{Kind: page.KindImportMap, Ref: "x", URL: "https://evil.example/m.js"}, nil, verdict.StatusFail},
		{"an empty src", page.Reference{Kind: page.KindScript, Ref: " "}, nil, verdict.StatusPass},
		{"an unresolvable src", page.Reference{Kind: page.KindScript, Ref: "https://[::1"}, nil, verdict.StatusFail},
		{"a meta csp", page.Reference{Kind: page.KindCSP, Ref: "script-src 'self'"}, nil, verdict.StatusPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := scope
			if tc.scope != nil {
				s = tc.scope(s)
			}
			out := Account([]page.Reference{tc.ref}, s)
			if len(out) != 1 || out[0].Status != tc.status {
				t.Fatalf("got %+v, want %s", out, tc.status)
			}
			checks := Checks("https://kms.example.com/", out)
			if v, reason := verdict.Combine(checks); tc.status == verdict.StatusFail && (v != verdict.Failed || reason != ReasonUnverifiedSubresource) {
				t.Errorf("checks combine to %s %s", v, reason)
			}
		})
	}
}
