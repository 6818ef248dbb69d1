package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "kms.mjs v1.0.1", "kms.mjs v1.0.1"},
		{"empty", "", ""},
		{"newline", "a\nb", `a\nb`},
		{"crlf", "a\r\nb", `a\r\nb`},
		{"tab", "a\tb", `a\tb`},
		{"nul and esc", "a\x00\x1b[31mred", `a\x00\x1b[31mred`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 control", "a\u0085b", `a\u0085b`},
		{"bidi override", "evil\u202Egnp.exe", `evil\u202egnp.exe`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"zero width", "a\u200bb\u200dc\u200fd", `a\u200bb\u200dc\u200fd`},
		{"bom", "\ufeffx", `\ufeffx`},
		{"line separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"nbsp", "a\u00a0b", `a\u00a0b`},
		{"tag char", "a\U000E0041b", `a\U000e0041b`},
		{"private use", "a\ue000b", `a\ue000b`},
		{"invalid utf8", "a\xff\xfeb", `a\xff\xfeb`},
		{"truncated utf8", "a\xe2\x82", `a\xe2\x82`},
		{"unicode ok", "héllo 世界 ✅", "héllo 世界 ✅"},
		{"command prefix", "::error::pwned", `\x3a:error::pwned`},
		{"command prefix after spaces", "   ::set-output name=x::y", `   \x3a:set-output name=x::y`},
		{"legacy command prefix", "##[error]x", `\x23#[error]x`},
		{"command after newline", "ok\n::error::x", `ok\n::error::x`},
		{"command after tab", "\t::error::x", `\t::error::x`},
		{"colons inside", "a::b", "a::b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Inline(tc.in); got != tc.want {
				t.Errorf("Inline(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestInlineCap(t *testing.T) {
	t.Parallel()
	exact := strings.Repeat("a", MaxInline)
	if got := Inline(exact); got != exact {
		t.Errorf("Inline of exactly MaxInline runes was changed (len %d)", len(got))
	}
	long := strings.Repeat("é", MaxInline+1)
	got := Inline(long)
	if n := utf8.RuneCountInString(got); n != MaxInline {
		t.Errorf("rune count = %d, want %d", n, MaxInline)
	}
	if !strings.HasSuffix(got, Ellipsis) {
		t.Errorf("capped output does not end in %q", Ellipsis)
	}
	// An escape is never cut in half.
	esc := strings.Repeat("\n", MaxInline)
	got = Inline(esc)
	if !strings.HasSuffix(got, `\n`+Ellipsis) {
		t.Errorf("escape cut in half: ...%q", got[len(got)-8:])
	}
	if n := utf8.RuneCountInString(got); n > MaxInline {
		t.Errorf("rune count = %d > %d", n, MaxInline)
	}
	if got := InlineMax(strings.Repeat("x", 2000), 0); len(got) != 2000 {
		t.Errorf("InlineMax(…, 0) capped to %d", len(got))
	}
	if got := InlineMax("abcdef", 4); got != "abc…" {
		t.Errorf("InlineMax(abcdef, 4) = %q", got)
	}
}

func TestMultiline(t *testing.T) {
	t.Parallel()
	got := Multiline("line one\r\n::error::x\rthird\u202e\n  ##[group]y")
	want := "line one\n\\x3a:error::x\nthird\\u202e\n  \\x23#[group]y"
	if got != want {
		t.Errorf("Multiline = %q, want %q", got, want)
	}
	many := strings.Repeat("x\n", MaxLines+10)
	lines := strings.Split(Multiline(many), "\n")
	if len(lines) != MaxLines+1 || lines[MaxLines] != Ellipsis {
		t.Errorf("Multiline kept %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestGuardLines(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"untouched", "a::b\nc", "a::b\nc"},
		{"first line", "::warning::x", `\x3a:warning::x`},
		{"later line indented", "ok\n \t::error::x", "ok\n \t\\x3a:error::x"},
		{"legacy", "ok\r\n##[debug]x", "ok\r\n\\x23#[debug]x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := GuardLines(tc.in); got != tc.want {
				t.Errorf("GuardLines(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCommandEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, data, prop string }{
		{"plain", "hello", "hello", "hello"},
		{"percent first", "100%0A", "100%250A", "100%250A"},
		{"newlines", "a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"colon comma", "t:x,y", "t:x,y", "t%3Ax%2Cy"},
		{"injection", "x\n::set-output name=a::b", "x%0A::set-output name=a::b", "x%0A%3A%3Aset-output name=a%3A%3Ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := CommandData(tc.in); got != tc.data {
				t.Errorf("CommandData(%q) = %q, want %q", tc.in, got, tc.data)
			}
			if got := CommandProperty(tc.in); got != tc.prop {
				t.Errorf("CommandProperty(%q) = %q, want %q", tc.in, got, tc.prop)
			}
		})
	}
}

func TestMarkdownText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "kms", "kms"},
		{"link", "[x](javascript:alert(1))", `\[x\]\(javascript&#58;alert\(1\)\)`},
		{"image", "![i](http://e/x.png)", `\!\[i\]\(http&#58;//e/x\.png\)`},
		{"html", "<script>alert(1)</script>", `&lt;script&gt;alert\(1\)&lt;/script&gt;`},
		{"pipe", "a|b", "a&#124;b"},
		{"code", "`x`", "\\`x\\`"},
		{"emphasis", "*a* _b_ ~c~", `\*a\* \_b\_ \~c\~`},
		{"entity", "&amp;", "&amp;amp;"},
		{"newline", "a\nb", `a\\nb`},
		{"autolink", "www.evil.com https://evil.com a@b.c", `www\.evil\.com https&#58;//evil\.com a&#64;b\.c`},
		{"heading and list", "# h - 1. +", `\# h \- 1\. \+`},
		{"math and emoji", "$x$ :smile:", "&#36;x&#36; &#58;smile&#58;"},
		{"bidi", "a\u202eb", `a\\u202eb`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MarkdownText(tc.in); got != tc.want {
				t.Errorf("MarkdownText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMarkdownCode(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "v1.0.1", "`v1.0.1`"},
		{"empty", "", EmptyCode},
		{"backtick inside", "a`b", "``a`b``"},
		{"backtick run", "a```b`", "```` a```b` ````"},
		{"leading space", " a", "`  a `"},
		{"pipe", "a|b", "`a\\|b`"},
		{"backslash pipe", `a\|b`, "`a\\\\\\|b`"},
		{"trailing backslash", `a\`, "`a\\`"},
		{"newline", "a\nb", "`a\\nb`"},
		{"html", "<b>", "`<b>`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MarkdownCode(tc.in); got != tc.want {
				t.Errorf("MarkdownCode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcd…"},
		{"runes", "ééééé", 3, "éé…"},
		{"one", "abc", 1, "…"},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -1, ""},
		{"invalid bytes kept", "\xff\xfe", 2, "\xff\xfe"},
		{"invalid bytes cut", "\xff\xfe\xfd", 2, "\xff…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Truncate(tc.in, tc.n); got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

// unescapeCommandData is what the runner does to a command message.
func unescapeCommandData(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

// unescapedPipes counts the '|' a GFM table parser would treat as cell
// separators, pairing backslashes left to right (the strictest reading).
func unescapedPipes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

var fuzzSeeds = []string{
	"", "a", "::error::x", " ::x", "##[x", "a\nb", "a\r\n::set-output name=x::y", "\u202e", "\xff",
	"| a | b |", "`|`", `\|`, `\\|`, "<script>", "[x](javascript:alert(1))", "%0A%25", strings.Repeat("é\n", 400),
}

// TestInlineGuardWithinCap: the escape that neutralises a command prefix
// counts against the cap (it used to be added after the cut: 515 runes).
func TestInlineGuardWithinCap(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"::" + strings.Repeat("a", 600), "##[" + strings.Repeat("a", 600), "   ::" + strings.Repeat("é", 600),
		"::" + strings.Repeat("a", MaxInline-2), "::" + strings.Repeat("a", MaxInline-5), "::" + strings.Repeat("\x00", 300)} {
		got := Inline(s)
		if n := utf8.RuneCountInString(got); n > MaxInline {
			t.Errorf("Inline(%.12q...) has %d runes, more than %d", s, n, MaxInline)
		}
		if rest := strings.TrimLeft(got, " "); !strings.HasPrefix(rest, `\x3a`) && !strings.HasPrefix(rest, `\x23`) {
			t.Errorf("Inline(%.12q...) = %.12q..., want the prefix escaped", s, got)
		}
	}
	for max := 1; max <= 8; max++ {
		got := InlineMax("::error::x", max)
		if n := utf8.RuneCountInString(got); n > max || strings.HasPrefix(got, "::") {
			t.Errorf("InlineMax(::error::x, %d) = %q", max, got)
		}
	}
	if got := Inline("::error::x"); got != `\x3a:error::x` {
		t.Errorf("Inline(::error::x) = %q", got)
	}
}

func FuzzInline(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Inline(s)
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("Inline(%q) has a line break: %q", s, got)
		}
		rest := strings.TrimLeft(got, " ")
		if strings.HasPrefix(rest, "::") || strings.HasPrefix(rest, "##[") {
			t.Fatalf("Inline(%q) starts a command: %q", s, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Inline(%q) is not valid UTF-8: %q", s, got)
		}
		if n := utf8.RuneCountInString(got); n > MaxInline {
			t.Fatalf("Inline(%q) has %d runes", s, n)
		}
		for _, r := range got {
			if escapeRune(r) != string(r) {
				t.Fatalf("Inline(%q) kept unsafe rune %U", s, r)
			}
		}
	})
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		txt := MarkdownText(s)
		if strings.ContainsAny(txt, "\n\r|<>") {
			t.Fatalf("MarkdownText(%q) = %q holds a line break or raw | < >", s, txt)
		}
		if unescapedPipes(txt) != 0 {
			t.Fatalf("MarkdownText(%q) = %q has an unescaped pipe", s, txt)
		}
		code := MarkdownCode(s)
		if strings.ContainsAny(code, "\n\r") {
			t.Fatalf("MarkdownCode(%q) = %q holds a line break", s, code)
		}
		if unescapedPipes(code) != 0 {
			t.Fatalf("MarkdownCode(%q) = %q has an unescaped pipe", s, code)
		}
		if strings.HasPrefix(strings.TrimLeft(code, " "), "::") {
			t.Fatalf("MarkdownCode(%q) starts a command", s)
		}
	})
}

func FuzzCommandData(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := CommandData(s)
		if strings.ContainsAny(d, "\r\n") {
			t.Fatalf("CommandData(%q) = %q holds a line break", s, d)
		}
		if back := unescapeCommandData(d); back != s {
			t.Fatalf("CommandData round trip: %q -> %q -> %q", s, d, back)
		}
		p := CommandProperty(s)
		if strings.ContainsAny(p, "\r\n:,") {
			t.Fatalf("CommandProperty(%q) = %q holds a separator", s, p)
		}
	})
}

func FuzzGuardLines(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range strings.FieldsFunc(GuardLines(s), func(r rune) bool { return r == '\n' || r == '\r' }) {
			rest := strings.TrimLeft(l, " \t\v\f")
			if strings.HasPrefix(rest, "::") || strings.HasPrefix(rest, "##[") {
				t.Fatalf("GuardLines(%q) left a command line %q", s, l)
			}
		}
		for _, l := range strings.Split(Multiline(s), "\n") {
			rest := strings.TrimLeft(l, " ")
			if strings.HasPrefix(rest, "::") || strings.HasPrefix(rest, "##[") {
				t.Fatalf("Multiline(%q) left a command line %q", s, l)
			}
		}
	})
}
