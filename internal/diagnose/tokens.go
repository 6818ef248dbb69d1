package diagnose

import "bytes"

// gap is what separates two tokens: whitespace, line breaks and comments.
type gap struct {
	space    bool
	newline  bool
	comments [][]byte
}

// jsPunct lists JavaScript's multi-byte punctuators, longest first, so the
// tokenizer munches maximally on both copies: "a + ++b" and "a+++b" then
// give different tokens.
var jsPunct = []string{
	">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=",
	"=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>",
}

// regexAfter lists the keywords after which '/' starts a regular expression.
var regexAfter = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true, "new": true, "delete": true,
	"void": true, "throw": true, "case": true, "do": true, "else": true, "yield": true, "await": true,
}

// restricted lists the JavaScript tokens after which a line break ends the
// statement (automatic semicolon insertion's restricted productions).
var restricted = map[string]bool{"return": true, "throw": true, "break": true, "continue": true, "yield": true, "async": true}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// tokenize splits JavaScript or CSS into tokens and the gaps before each
// (gaps has one more element: the trailing gap). ok is false for text it
// does not understand (an unterminated string, comment or template), which
// is then never recognised as minified.
func tokenize(b []byte, k kind) (toks [][]byte, gaps []gap, ok bool) {
	i := 0
	var g gap
	prev := []byte(nil)
	for i < len(b) {
		c := b[i]
		switch {
		case isSpace(c):
			g.space = true
			if c == '\n' || c == '\r' {
				g.newline = true
			}
			i++
			continue
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return nil, nil, false
			}
			cm := b[i : i+2+end+2]
			if bytes.ContainsAny(cm, "\n\r") {
				g.newline = true
			}
			g.comments = append(g.comments, cm)
			i += len(cm)
			continue
		case k == kindJS && c == '/' && i+1 < len(b) && b[i+1] == '/':
			end := bytes.IndexAny(b[i:], "\n\r")
			if end < 0 {
				end = len(b) - i
			}
			g.comments = append(g.comments, b[i:i+end])
			i += end
			continue
		}
		start := i
		switch {
		case c == '"' || c == '\'':
			j, good := skipString(b, i)
			if !good {
				return nil, nil, false
			}
			i = j
		case k == kindJS && c == '`':
			j, good := skipTemplate(b, i, 0)
			if !good {
				return nil, nil, false
			}
			i = j
		case k == kindJS && c == '/' && regexAllowed(prev):
			j, good := skipRegex(b, i)
			if !good {
				return nil, nil, false
			}
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9':
			i++
			for i < len(b) && (isWordByte(b[i]) || b[i] == '.' || (b[i] == '+' || b[i] == '-') && (b[i-1] == 'e' || b[i-1] == 'E')) {
				i++
			}
		case isWordByte(c) || c == '\\':
			for i < len(b) && (isWordByte(b[i]) || b[i] == '\\' || (k == kindCSS && b[i] == '-')) {
				i++
			}
		case k == kindCSS && c == '-':
			for i < len(b) && (isWordByte(b[i]) || b[i] == '-') {
				i++
			}
		default:
			i++
			if k == kindJS {
				for _, p := range jsPunct {
					if bytes.HasPrefix(b[start:], []byte(p)) {
						i = start + len(p)
						break
					}
				}
			}
		}
		toks = append(toks, b[start:i])
		gaps = append(gaps, g)
		g = gap{}
		prev = b[start:i]
	}
	return toks, append(gaps, g), true
}

func skipString(b []byte, i int) (int, bool) {
	q := b[i]
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '\n', '\r':
			return 0, false
		case q:
			return j + 1, true
		}
	}
	return 0, false
}

// skipTemplate returns the end of the template literal starting at b[i].
func skipTemplate(b []byte, i, depth int) (int, bool) {
	if depth > maxNesting {
		return 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '`':
			return j + 1, true
		case '$':
			if j+1 < len(b) && b[j+1] == '{' {
				end, ok := skipBraces(b, j+1, depth+1)
				if !ok {
					return 0, false
				}
				j = end - 1
			}
		}
	}
	return 0, false
}

// skipBraces returns the end of the balanced {...} starting at b[i].
func skipBraces(b []byte, i, depth int) (int, bool) {
	level := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '{':
			level++
		case '}':
			level--
			if level == 0 {
				return j + 1, true
			}
		case '"', '\'':
			end, ok := skipString(b, j)
			if !ok {
				return 0, false
			}
			j = end - 1
		case '`':
			end, ok := skipTemplate(b, j, depth)
			if !ok {
				return 0, false
			}
			j = end - 1
		}
	}
	return 0, false
}

func skipRegex(b []byte, i int) (int, bool) {
	class := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '\n', '\r':
			return 0, false
		case '[':
			class = true
		case ']':
			class = false
		case '/':
			if !class {
				j++
				for j < len(b) && isWordByte(b[j]) {
					j++
				}
				return j, true
			}
		}
	}
	return 0, false
}

// regexAllowed: after prev, '/' starts a regular expression rather than a division.
func regexAllowed(prev []byte) bool {
	if len(prev) == 0 {
		return true
	}
	last := prev[len(prev)-1]
	if isWordByte(last) {
		return regexAfter[string(prev)]
	}
	switch last {
	case ')', ']', '}', '"', '\'', '`':
		return false
	}
	return true
}

// cssSafe lists the CSS tokens next to which whitespace means nothing.
var cssSafe = map[string]bool{"{": true, "}": true, ";": true, ",": true, ">": true, "~": true}

// minified: live is rebuilt with whitespace and comments removed (and ';'
// dropped before '}'), and nothing else, at the scale of a minifier pass.
func minified(rebuilt, live []byte, k kind) bool {
	saving := len(rebuilt) - len(live)
	if saving < MinMinifiedSaving || float64(saving) < MinMinifiedSavingFraction*float64(len(rebuilt)) {
		return false
	}
	rt, rg, ok1 := tokenize(rebuilt, k)
	lt, lg, ok2 := tokenize(live, k)
	if !ok1 || !ok2 || len(rt) == 0 {
		return false
	}
	for _, g := range lg {
		for _, cm := range g.comments {
			if !bytes.Contains(rebuilt, cm) {
				return false // a comment the build did not write
			}
		}
	}
	i, j := 0, 0
	for i < len(rt) && j < len(lt) {
		if !bytes.Equal(rt[i], lt[j]) {
			// A minifier drops the ';' before '}'.
			if string(rt[i]) == ";" && i+1 < len(rt) && string(rt[i+1]) == "}" && string(lt[j]) == "}" {
				i++
				continue
			}
			return false
		}
		if i > 0 && !gapOK(rt[i-1], rt[i], rg[i], lg[j], k) {
			return false
		}
		i++
		j++
	}
	return i == len(rt) && j == len(lt)
}

// gapOK says whether turning the rebuilt gap r into the live gap l between
// tokens prev and next cannot change the meaning.
func gapOK(prev, next []byte, r, l gap, k kind) bool {
	if k == kindCSS {
		if r.space != l.space && !cssSafe[string(prev)] && !cssSafe[string(next)] {
			return false
		}
		return true
	}
	if r.newline != l.newline {
		if restricted[string(prev)] || string(next) == "++" || string(next) == "--" || string(next) == "=>" {
			return false
		}
	}
	return true
}
