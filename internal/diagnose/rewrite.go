package diagnose

import (
	"bytes"
	"encoding/hex"
	"mime"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/lukium/kms-verify-action/internal/lazyre"
)

// Names of the CDN transformations Rewrite recognises.
const (
	RewriteWhitespace    = "whitespace-normalisation"
	RewriteComments      = "comment-removal"
	RewriteMinifier      = "minifier"
	RewriteInjected      = "injected-script"
	RewriteEmail         = "email-obfuscation"
	RewriteCharset       = "charset-reencoding"
	rewriteEmailInjected = RewriteEmail + "+" + RewriteInjected
)

// Bounds of the rewrite recognition.
const (
	// MaxRewriteInput is the largest file (either copy) Rewrite looks at;
	// larger files are not recognised as rewrites (they stay "tampered").
	MaxRewriteInput = 4 << 20
	// MaxInjected bounds the markup a CDN may have injected before </body>.
	MaxInjected = 64 << 10
	// MinMinifiedSaving is the least a minifier pass must save, in bytes and
	// as a fraction of the rebuilt size, so a single removed byte is never
	// read as a minifier run.
	MinMinifiedSaving         = 32
	MinMinifiedSavingFraction = 0.05
	// maxNesting bounds template-literal nesting in the tokenizer.
	maxNesting = 32
)

// kind is the family of a text file, from its name and Content-Type.
type kind int

const (
	kindOther kind = iota
	kindHTML
	kindCSS
	kindJS
)

func kindOf(name, contentType string) kind {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		return kindHTML
	case mt == "text/css":
		return kindCSS
	case strings.Contains(mt, "javascript") || mt == "text/ecmascript":
		return kindJS
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm", ".xhtml":
		return kindHTML
	case ".css":
		return kindCSS
	case ".js", ".mjs", ".cjs":
		return kindJS
	}
	return kindOther
}

// Rewrite reports which known CDN transformation turns rebuilt into live,
// or "" when none does. name (a file name or URL path) and contentType (the
// live response's header) say what kind of text the file is. It never
// recognises a rewrite of identical bytes, of files over MaxRewriteInput,
// or of binary files (a NUL byte in either copy).
//
// The transformations: "whitespace-normalisation" and "comment-removal"
// (applied to every line the same way, so they must explain the whole
// difference), "minifier" (JavaScript or CSS with the same tokens and only
// whitespace and comments removed, saving at least MinMinifiedSaving bytes,
// never across a line break that JavaScript's semicolon insertion depends
// on), "injected-script" (HTML with <script> elements added just before
// </body>), "email-obfuscation" (Cloudflare's /cdn-cgi/ email protection,
// decoded and compared exactly) and "charset-reencoding" (UTF-8 to or from
// the Latin-1/Windows-1252 charset of the Content-Type, or a byte order mark).
func Rewrite(name string, rebuilt, live []byte, contentType string) string {
	if bytes.Equal(rebuilt, live) || len(rebuilt) > MaxRewriteInput || len(live) > MaxRewriteInput ||
		bytes.IndexByte(rebuilt, 0) >= 0 || bytes.IndexByte(live, 0) >= 0 {
		return ""
	}
	if charsetRewrite(rebuilt, live, contentType) {
		return RewriteCharset
	}
	k := kindOf(name, contentType)
	if k == kindHTML {
		undone, changed := undoEmailObfuscation(live)
		switch {
		case changed && bytes.Equal(undone, rebuilt):
			return RewriteEmail
		case injectedBeforeBody(rebuilt, undone):
			if changed {
				return rewriteEmailInjected
			}
			return RewriteInjected
		}
	}
	if t := lineRewrite(rebuilt, live, k); t != "" {
		return t
	}
	if (k == kindJS || k == kindCSS) && minified(rebuilt, live, k) {
		return RewriteMinifier
	}
	return ""
}

var (
	utf8BOM = []byte{0xef, 0xbb, 0xbf}
)

// charsetRewrite: the live bytes are the rebuilt text re-encoded.
func charsetRewrite(rebuilt, live []byte, contentType string) bool {
	if bytes.Equal(append(append([]byte(nil), utf8BOM...), rebuilt...), live) ||
		bytes.Equal(append(append([]byte(nil), utf8BOM...), live...), rebuilt) {
		return true
	}
	_, params, _ := mime.ParseMediaType(contentType)
	cs := strings.ToLower(strings.TrimSpace(params["charset"]))
	var cm *charmap.Charmap
	switch cs {
	case "iso-8859-1", "latin1", "iso8859-1", "l1":
		cm = charmap.ISO8859_1
	case "windows-1252", "cp1252":
		cm = charmap.Windows1252
	case "utf-8", "utf8":
		// The rebuilt text was Latin-1/Windows-1252 and the CDN served it as UTF-8.
		if utf8.Valid(rebuilt) {
			return false
		}
		for _, m := range []*charmap.Charmap{charmap.Windows1252, charmap.ISO8859_1} {
			if out, err := m.NewDecoder().Bytes(rebuilt); err == nil && bytes.Equal(out, live) {
				return true
			}
		}
		return false
	default:
		return false
	}
	if !utf8.Valid(rebuilt) {
		return false
	}
	out, err := cm.NewEncoder().Bytes(rebuilt)
	return err == nil && bytes.Equal(out, live)
}

var (
	bodyEndRE    = lazyre.New(`(?i)</body\s*>`)
	scriptElemRE = lazyre.New(`(?is)\A\s*<script\b[^>]*>.*?</script\s*>`)
	// Cloudflare email protection: the address is hex, XORed with the first byte.
	cfLinkRE   = lazyre.New(`href="/cdn-cgi/l/email-protection#([0-9a-fA-F]{2,512})"`)
	cfSpanRE   = lazyre.New(`<span class="__cf_email__" data-cfemail="([0-9a-fA-F]{2,512})">\[email&#160;protected\]</span>`)
	cfScriptRE = lazyre.New(`<script data-cfasync="false" src="/cdn-cgi/scripts/[0-9a-f]{1,32}/cloudflare-static/email-decode\.min\.js"></script>`)
)

var scriptSrcRE = lazyre.New(`(?is)<script\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)

// InjectedSources returns the src of every <script> a CDN injected before
// </body> (as Rewrite recognises it, email obfuscation undone first), or
// nil when live is not such a rewrite of rebuilt. The values are raw
// attribute text from the network.
func InjectedSources(rebuilt, live []byte) []string {
	if len(rebuilt) > MaxRewriteInput || len(live) > MaxRewriteInput {
		return nil
	}
	undone, _ := undoEmailObfuscation(live)
	mid := injectedPart(rebuilt, undone)
	if mid == nil {
		return nil
	}
	var out []string
	for _, m := range scriptSrcRE().FindAllSubmatch(mid, -1) {
		out = append(out, string(bytes.Join(m[1:], nil)))
	}
	return out
}

// injectedBeforeBody: live is rebuilt with one or more <script> elements
// (and whitespace) inserted right before the last </body>.
func injectedBeforeBody(rebuilt, live []byte) bool { return injectedPart(rebuilt, live) != nil }

// injectedPart returns the markup inserted before rebuilt's last </body>
// when it is one or more <script> elements and whitespace, else nil.
func injectedPart(rebuilt, live []byte) []byte {
	locs := bodyEndRE().FindAllIndex(rebuilt, -1)
	if len(locs) == 0 || len(live) <= len(rebuilt) || len(live)-len(rebuilt) > MaxInjected {
		return nil
	}
	at := locs[len(locs)-1][0]
	head, tail := rebuilt[:at], rebuilt[at:]
	if !bytes.HasPrefix(live, head) || !bytes.HasSuffix(live, tail) {
		return nil
	}
	all := live[len(head) : len(live)-len(tail)]
	mid := all
	scripts := 0
	for len(bytes.TrimSpace(mid)) > 0 {
		loc := scriptElemRE().FindIndex(mid)
		if loc == nil {
			return nil
		}
		mid = mid[loc[1]:]
		scripts++
	}
	if scripts == 0 {
		return nil
	}
	return all
}

// undoEmailObfuscation reverses Cloudflare's email protection in live.
func undoEmailObfuscation(live []byte) ([]byte, bool) {
	changed := false
	decodeOr := func(m []byte, re *regexp.Regexp, format string) []byte {
		sub := re.FindSubmatch(m)
		email, ok := cfDecode(string(sub[1]))
		if !ok {
			return m
		}
		changed = true
		return []byte(strings.Replace(format, "%s", email, 1))
	}
	out := cfLinkRE().ReplaceAllFunc(live, func(m []byte) []byte { return decodeOr(m, cfLinkRE(), `href="mailto:%s"`) })
	out = cfSpanRE().ReplaceAllFunc(out, func(m []byte) []byte { return decodeOr(m, cfSpanRE(), "%s") })
	if changed {
		out = cfScriptRE().ReplaceAll(out, nil)
	}
	return out, changed
}

// cfDecode decodes Cloudflare's data-cfemail: hex bytes, the first is the
// XOR key of the rest.
func cfDecode(h string) (string, bool) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) < 2 {
		return "", false
	}
	out := make([]byte, len(b)-1)
	for i := 1; i < len(b); i++ {
		out[i-1] = b[i] ^ b[0]
	}
	s := string(out)
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\"<>\x00") {
		return "", false
	}
	return s, true
}

// Line transformations, as bits.
const (
	tCRLF = 1 << iota
	tTrailing
	tLeading
	tCollapse
	tComments
	tBlank
	tAll = tCRLF | tTrailing | tLeading | tCollapse | tComments | tBlank
)

// lineRewrite finds a set of line transformations that, applied to the
// whole rebuilt file, gives exactly live.
func lineRewrite(rebuilt, live []byte, k kind) string {
	all := tAll
	if k != kindHTML && k != kindCSS {
		all &^= tCollapse // inside JavaScript strings, runs of spaces are data
	}
	if k == kindOther {
		all &^= tComments
	}
	// One changed byte is never a rewrite: a difference within a single
	// line that changes the length by at most one byte is an edit.
	if d := len(rebuilt) - len(live); d >= -1 && d <= 1 && changedLines(rebuilt, live) <= 1 {
		return ""
	}
	// Cheap rejection: with every transformation applied, both must agree.
	if !bytes.Equal(normalize(rebuilt, all, k), normalize(live, all, k)) {
		return ""
	}
	// Name the smallest explanation: whitespace alone when it suffices.
	comments := false
	for t := 1; t <= tAll; t++ {
		if t&^all != 0 || (comments && t&tComments != 0) {
			continue
		}
		if bytes.Equal(normalize(rebuilt, t, k), live) {
			if t&tComments == 0 {
				return RewriteWhitespace
			}
			comments = true
		}
	}
	if comments {
		return RewriteComments
	}
	return ""
}

// changedLines is the number of lines between the common leading and
// trailing lines of a and b (the larger side).
func changedLines(a, b []byte) int {
	la, lb := bytes.SplitAfter(a, []byte("\n")), bytes.SplitAfter(b, []byte("\n"))
	pre := 0
	for pre < len(la) && pre < len(lb) && bytes.Equal(la[pre], lb[pre]) {
		pre++
	}
	suf := 0
	for suf < len(la)-pre && suf < len(lb)-pre && bytes.Equal(la[len(la)-1-suf], lb[len(lb)-1-suf]) {
		suf++
	}
	return max(len(la)-pre-suf, len(lb)-pre-suf)
}

// normalize applies the transformations t to b, line by line.
func normalize(b []byte, t int, k kind) []byte {
	if t&tCRLF != 0 {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	if t&tComments != 0 {
		b = stripComments(b, k)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	out := make([]byte, 0, len(b))
	for _, body := range lines {
		term := ""
		if bytes.HasSuffix(body, []byte("\n")) {
			body, term = body[:len(body)-1], "\n"
			if bytes.HasSuffix(body, []byte("\r")) {
				body, term = body[:len(body)-1], "\r\n"
			}
		}
		if t&tTrailing != 0 {
			body = bytes.TrimRight(body, " \t")
		}
		if t&tLeading != 0 {
			body = bytes.TrimLeft(body, " \t")
		}
		if t&tCollapse != 0 {
			body = collapse(body)
		}
		if t&tBlank != 0 && len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		out = append(append(out, body...), term...)
	}
	return out
}

func collapse(b []byte) []byte {
	out := make([]byte, 0, len(b))
	space := false
	for _, c := range b {
		if c == ' ' || c == '\t' {
			if !space {
				out = append(out, ' ')
			}
			space = true
			continue
		}
		space = false
		out = append(out, c)
	}
	return out
}

var (
	htmlCommentRE = lazyre.New(`(?s)<!--(?:[^\[!].*?)?-->`)
	cssCommentRE  = lazyre.New(`/\*(?:[^!*][^*]*)?\*+(?:[^/*][^*]*\*+)*/`)
	// JavaScript: only comments that fill whole lines (a // line, or a /* */
	// block starting a line and ending one), never comments inside code.
	jsLineCommentRE  = lazyre.New(`(?m)^[ \t]*//[^\n]*$`)
	jsBlockCommentRE = lazyre.New(`(?m)^[ \t]*/\*[^*]*\*+(?:[^/*][^*]*\*+)*/[ \t]*$`)
)

func stripComments(b []byte, k kind) []byte {
	switch k {
	case kindHTML:
		return htmlCommentRE().ReplaceAll(b, nil)
	case kindCSS:
		return cssCommentRE().ReplaceAll(b, nil)
	case kindJS:
		b = jsBlockCommentRE().ReplaceAllFunc(b, func(m []byte) []byte {
			if bytes.HasPrefix(bytes.TrimLeft(m, " \t"), []byte("/*!")) {
				return m // a license comment, kept by every minifier
			}
			return nil
		})
		return jsLineCommentRE().ReplaceAll(b, nil)
	}
	return b
}
