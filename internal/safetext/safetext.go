// Package safetext escapes untrusted text (file names, HTTP headers, URLs,
// tags, error messages from the network) before it reaches a log line, a
// GitHub workflow command, a Markdown job summary or a terminal.
//
// The functions are pure and total: every input, including invalid UTF-8,
// gives a bounded, printable result. The rules are:
//
//   - Inline: one log-line fragment. Newlines, tabs, every other control,
//     format (bidi overrides, zero-width), line/paragraph separator, private
//     use, unassigned and non-ASCII space character is shown as a visible
//     escape (\n, \u202e, \x00); invalid UTF-8 bytes as \xNN. The result never
//     holds a newline, is at most MaxInline runes, and never begins (after
//     spaces) with a workflow-command prefix ("::" or "##[").
//   - CommandData / CommandProperty: the percent-escaping the Actions runner
//     undoes for workflow-command messages and properties.
//   - MarkdownText / MarkdownCode: Inline, then Markdown escaping so the text
//     cannot open a link, image, HTML tag, code span or emphasis, and cannot
//     break a GFM table row.
package safetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInline is the most runes Inline returns (the "…" included).
const MaxInline = 512

// MaxLines is the most lines Multiline keeps.
const MaxLines = 200

// Ellipsis marks text cut short by Inline, InlineMax, Multiline and Truncate.
const Ellipsis = "…"

// Inline renders s as one safe log-line fragment of at most MaxInline runes.
// See the package comment for the rules.
func Inline(s string) string { return InlineMax(s, MaxInline) }

// InlineMax is Inline with a caller-chosen cap of max runes; max <= 0 means
// no cap (use it only for text whose size is already bounded).
func InlineMax(s string, max int) string {
	// A workflow-command prefix is neutralised by escaping its first
	// character, inside the cap: the escape counts like any other piece.
	guardAt, guard := commandPrefix(s)
	var b strings.Builder
	n := 0 // runes written
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		var piece string
		if i == guardAt {
			piece = guard
		} else if r == utf8.RuneError && w <= 1 {
			piece = fmt.Sprintf(`\x%02x`, s[i])
			w = 1
		} else {
			piece = escapeRune(r)
		}
		pn := utf8.RuneCountInString(piece)
		if max > 0 {
			rest := i+w < len(s)
			limit := max
			if rest {
				limit = max - 1 // keep room for the ellipsis
			}
			if n+pn > limit {
				b.WriteString(Ellipsis)
				break
			}
		}
		b.WriteString(piece)
		n += pn
		i += w
	}
	return b.String()
}

// escapeRune returns r itself when it is safe to print, else a visible escape.
func escapeRune(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x80 {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf(`\x%02x`, r)
		}
		return string(r)
	}
	if unicode.IsPrint(r) && !unicode.Is(unicode.Cf, r) {
		return string(r)
	}
	if r <= 0xffff {
		return fmt.Sprintf(`\u%04x`, r)
	}
	return fmt.Sprintf(`\U%08x`, r)
}

// commandPrefix finds a workflow-command prefix ("::" or "##[") at the
// start of s after ASCII spaces (every other space is escaped anyway) and
// returns its byte offset and the escape of its first character, so that
// "::error::x" renders as `\x3a:error::x`; -1 when there is none. Escaping
// never makes a ':' or '#' appear, and cutting keeps a prefix of the
// pieces, so the output starts a command only if s does.
func commandPrefix(s string) (int, string) {
	rest := strings.TrimLeft(s, " ")
	switch {
	case strings.HasPrefix(rest, "::"):
		return len(s) - len(rest), `\x3a`
	case strings.HasPrefix(rest, "##["):
		return len(s) - len(rest), `\x23`
	}
	return -1, ""
}

// Multiline is Inline applied to each line of s: the line breaks (\n, \r\n or
// \r) are kept as "\n", everything else follows the Inline rules, each line
// is capped at MaxInline runes and at most MaxLines lines are kept (a last
// line "…" says more were cut). No line of the result begins with a
// workflow-command prefix.
func Multiline(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	cut := false
	if len(lines) > MaxLines {
		lines, cut = lines[:MaxLines], true
	}
	for i, l := range lines {
		lines[i] = Inline(l)
	}
	if cut {
		lines = append(lines, Ellipsis)
	}
	return strings.Join(lines, "\n")
}

// GuardLines leaves s as it is except that each line (lines end at \n or \r)
// that would begin, after spaces and tabs, with a workflow-command prefix
// ("::" or "##[") gets its first prefix character escaped. Use it on whole
// log lines assembled from already escaped parts.
func GuardLines(s string) string {
	if !strings.Contains(s, "::") && !strings.Contains(s, "##[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for len(s) > 0 {
		end := strings.IndexAny(s, "\r\n")
		line, sep := s, ""
		if end >= 0 {
			line, sep, s = s[:end], s[end:end+1], s[end+1:]
		} else {
			s = ""
		}
		rest := strings.TrimLeft(line, " \t\v\f")
		lead := line[:len(line)-len(rest)]
		switch {
		case strings.HasPrefix(rest, "::"):
			line = lead + `\x3a` + rest[1:]
		case strings.HasPrefix(rest, "##["):
			line = lead + `\x23` + rest[1:]
		}
		b.WriteString(line)
		b.WriteString(sep)
	}
	return b.String()
}

// CommandData escapes a workflow-command message the way the runner
// unescapes it: % -> %25, \r -> %0D, \n -> %0A.
func CommandData(s string) string {
	return commandData.Replace(s)
}

// CommandProperty escapes a workflow-command property value: CommandData plus
// ':' -> %3A and ',' -> %2C.
func CommandProperty(s string) string {
	return commandProperty.Replace(s)
}

var (
	commandData     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	commandProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// MarkdownText renders s as plain text inside Markdown (a paragraph, a list
// item or a GFM table cell): Inline first, then every character that could
// start Markdown syntax is backslash-escaped and < > & | : @ $ become HTML
// character references, so the text cannot open a link, autolink, image,
// HTML tag, code span, emphasis, math or emoji shortcode, nor split a table
// row.
func MarkdownText(s string) string {
	in := Inline(s)
	var b strings.Builder
	b.Grow(len(in) + len(in)/4)
	for _, r := range in {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '~', '=', '^', '"', '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '|':
			b.WriteString("&#124;")
		case ':':
			b.WriteString("&#58;")
		case '@':
			b.WriteString("&#64;")
		case '$':
			b.WriteString("&#36;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EmptyCode is what MarkdownCode returns for an empty string: visibly not a
// value, and not confusable with a value of two quote characters.
const EmptyCode = "*(empty)*"

// MarkdownCode renders s as an inline code span that is safe inside a GFM
// table cell: Inline first; the fence is one backtick longer than the longest
// backtick run inside; '|' becomes `\|` (which GFM removes before parsing the
// cell, and a run of backslashes just before a '|' is doubled so no table
// parser can pair it with the escape); a space pads content that begins or ends with a backtick or a space.
// The empty string gives EmptyCode.
func MarkdownCode(s string) string {
	in := Inline(s)
	if in == "" {
		return EmptyCode
	}
	longest, run := 0, 0
	for i := 0; i < len(in); i++ {
		if in[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	body := escapeCellPipes(in)
	pad := ""
	if body[0] == '`' || body[len(body)-1] == '`' || body[0] == ' ' || body[len(body)-1] == ' ' {
		pad = " "
	}
	return fence + pad + body + pad + fence
}

// Truncate returns s cut to at most n runes, the last of which is "…" when
// anything was cut. Invalid UTF-8 bytes count as one rune each and are kept
// as they are; n <= 0 gives "".
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	count := 0
	for i := range s {
		if count == n-1 {
			// s[i:] holds at least one more rune; does it hold more than one?
			_, w := utf8.DecodeRuneInString(s[i:])
			if i+w >= len(s) {
				return s
			}
			return s[:i] + Ellipsis
		}
		count++
	}
	return s
}

// escapeCellPipes turns each '|' into `\|`, doubling any backslashes right
// before it, so that the pipe stays escaped whether a table parser pairs
// backslashes left to right or only looks at the character before '|'.
func escapeCellPipes(s string) string {
	if !strings.Contains(s, "|") {
		return s
	}
	var b strings.Builder
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			run++
			continue
		case '|':
			b.WriteString(strings.Repeat(`\`, 2*run))
			b.WriteString(`\|`)
		default:
			b.WriteString(strings.Repeat(`\`, run))
			b.WriteByte(c)
		}
		run = 0
	}
	b.WriteString(strings.Repeat(`\`, run))
	return b.String()
}
