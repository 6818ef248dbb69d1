// Package headers is pure: it parses the host-configuration file `_headers`
// (Cloudflare Pages and Netlify), the security headers a browser enforces
// (Content-Security-Policy, Permissions-Policy, Integrity-Policy, via RFC
// 9651 structured fields), and decides whether a live response carries the
// headers a release declares and a configured policy requires.
//
// It does no I/O beyond reading the io.Reader it is given. Every input is
// bounded (see limits.go); a hostile file or header costs at most linear
// time in its bounded size.
//
// `_headers` syntax, as documented by both hosts
// (https://developers.cloudflare.com/pages/configuration/headers/,
// https://docs.netlify.com/manage/routing/headers/):
//
//	# a comment
//	/secure/page
//	  X-Frame-Options: DENY
//	/static/*
//	  Access-Control-Allow-Origin: *
//	https://:project.pages.dev/*
//	  X-Robots-Tag: noindex
//	/*.jpg
//	  ! Content-Security-Policy
//
// A line that starts with "/" (or, for Cloudflare, "scheme://") starts a
// rule; the indented "Name: value" lines below it are its headers. A line
// "! Name" (Cloudflare only) detaches a header set by an earlier matching
// rule. Where the hosts differ, Format decides; see Rules.For.
package headers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/lukium/kms-verify-action/internal/lazyre"
)

// Format names the host whose `_headers` dialect and combination rules apply.
type Format string

const (
	// Cloudflare is Cloudflare Pages / Workers static assets: absolute https
	// URL patterns, ":splat" and ":placeholder" substitution in values, "!"
	// detach, at most 100 rules and 2,000 characters a line; when several
	// rules match a path, values of the same header are joined with ", " in
	// file order, and a detach removes what earlier matching rules set.
	Cloudflare Format = "cloudflare"
	// Netlify is Netlify's `_headers`: path patterns only, matched without
	// regard to case or a trailing slash; a header repeated inside one rule
	// is joined with ", " (multi-value headers), and when several rules
	// match a path the later rule's value of a header replaces the earlier
	// one (netlify/build headers-parser, "the later one overrides (does not
	// concatenate)").
	Netlify Format = "netlify"
)

// ParseFormat accepts "cloudflare" (also the empty string) or "netlify".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(Cloudflare):
		return Cloudflare, nil
	case string(Netlify):
		return Netlify, nil
	}
	return "", fmt.Errorf("headers-format %q is not supported; use cloudflare or netlify", s)
}

// ErrTooLarge is returned (wrapped) when a `_headers` file exceeds
// MaxFileBytes or MaxFileLines: the file is refused rather than half-read.
var ErrTooLarge = errors.New("_headers file too large")

// Field is one header a rule sets, in file order.
type Field struct {
	Name  string // canonical (http.CanonicalHeaderKey)
	Value string // as written, trimmed; may contain :placeholders (Cloudflare)
}

// Rule is one block of a `_headers` file.
type Rule struct {
	Pattern string   // the normalized URL pattern
	Line    int      // 1-based line of the pattern
	Set     []Field  // headers set, repeated names already joined with ", "
	Unset   []string // canonical names detached with "!" (Cloudflare)

	absolute bool           // pattern is https://host/path
	re       *regexp.Regexp // anchored matcher
	names    []string       // placeholder names in re, including "splat"
}

// Warning is a line the host would ignore, with the reason. Hosts skip
// invalid lines and deploy the rest, so the verifier models the same
// outcome and reports what was skipped.
type Warning struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (w Warning) String() string { return fmt.Sprintf("line %d: %s", w.Line, w.Message) }

// Rules is a parsed `_headers` file. The zero value has no rules and
// assigns no headers.
type Rules struct {
	Format   Format
	Rules    []Rule
	Warnings []Warning
}

// netlifyHostHeaders are the fields Netlify documents as exceptions:
// "Custom headers for these are typically ignored because Netlify's web
// servers need to set these headers to work properly."
var netlifyHostHeaders = map[string]bool{
	"Accept-Ranges": true, "Age": true, "Allow": true, "Alt-Svc": true, "Connection": true,
	"Content-Encoding": true, "Content-Length": true, "Content-Range": true, "Date": true,
	"Location": true, "Server": true, "Set-Cookie": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true,
}

var (
	// placeholderRE is Cloudflare's documented placeholder syntax, :[A-Za-z]\w*.
	placeholderRE = lazyre.New(`:[A-Za-z]\w*`)
	// headerNameRE is an RFC 9110 token.
	headerNameRE = lazyre.New("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	// schemeRE recognizes "something://" at the start of a line, which
	// Cloudflare treats as a (possibly invalid) URL pattern.
	schemeRE = lazyre.New(`^[^\s:/]+://`)
)

// Parse reads a `_headers` file in the given format. It returns an error
// only when the file cannot be read or exceeds MaxFileBytes/MaxFileLines;
// lines the host would ignore are skipped and listed in Rules.Warnings.
func Parse(r io.Reader, format Format) (*Rules, error) {
	if format == "" {
		format = Cloudflare
	}
	if format != Cloudflare && format != Netlify {
		return nil, fmt.Errorf("headers format %q is not supported", format)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read _headers: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxFileBytes)
	}
	p := &parser{out: &Rules{Format: format}, byPattern: map[string]int{}}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 64<<10), MaxFileBytes+1)
	n := 0
	for sc.Scan() {
		n++
		if n > MaxFileLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrTooLarge, MaxFileLines)
		}
		if p.stopped {
			continue
		}
		p.line(n, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read _headers: %w", err)
	}
	p.flush()
	return p.out, nil
}

type parser struct {
	out       *Rules
	cur       *Rule
	curSeen   map[string]int // canonical name -> index in cur.Set
	byPattern map[string]int // Cloudflare: pattern -> index in out.Rules
	stopped   bool
}

func (p *parser) warn(line int, format string, args ...any) {
	if len(p.out.Warnings) < MaxWarnings {
		p.out.Warnings = append(p.out.Warnings, Warning{Line: line, Message: fmt.Sprintf(format, args...)})
	}
}

func (p *parser) line(n int, raw string) {
	line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
	if line == "" || strings.HasPrefix(line, "#") {
		return
	}
	maxLine := MaxLineCloudflare
	if p.out.Format == Netlify {
		maxLine = MaxLineNetlify
	}
	// Cloudflare counts the entire line, including its indentation.
	if len(raw) > maxLine {
		p.warn(n, "line longer than %d characters ignored", maxLine)
		return
	}
	if p.isPatternLine(line) {
		p.flush()
		maxRules := MaxRulesCloudflare
		if p.out.Format == Netlify {
			maxRules = MaxRulesNetlify
		}
		if len(p.out.Rules) >= maxRules {
			p.warn(n, "more than %d rules: this and the remaining lines are ignored", maxRules)
			p.stopped = true
			return
		}
		rule, err := p.compile(line)
		if err != nil {
			p.warn(n, "rule ignored: %v", err)
			p.cur = nil
			return
		}
		rule.Line = n
		p.cur = rule
		p.curSeen = map[string]int{}
		return
	}
	name, value, hasColon := strings.Cut(line, ":")
	if !hasColon {
		if strings.HasPrefix(line, "!") && p.out.Format == Cloudflare {
			if p.cur == nil {
				p.warn(n, "detach before any URL pattern ignored")
				return
			}
			h := strings.TrimSpace(line[1:])
			if !headerNameRE().MatchString(h) {
				p.warn(n, "detach of an invalid header name ignored")
				return
			}
			if len(p.cur.Unset) < MaxHeadersPerRule {
				p.cur.Unset = append(p.cur.Unset, http.CanonicalHeaderKey(h))
			}
			return
		}
		if p.cur == nil {
			p.warn(n, "expected a path beginning with a forward slash")
		} else {
			p.warn(n, "expected a colon-separated header pair (name: value)")
		}
		return
	}
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case name == "":
		p.warn(n, "no header name")
		return
	case !headerNameRE().MatchString(name):
		p.warn(n, "invalid header name")
		return
	case value == "":
		p.warn(n, "no header value for %s", name)
		return
	case !validValue(value):
		p.warn(n, "header value with control characters ignored")
		return
	case p.cur == nil:
		p.warn(n, "header %s before any URL pattern ignored", name)
		return
	}
	canon := http.CanonicalHeaderKey(name)
	if p.out.Format == Netlify && netlifyHostHeaders[canon] {
		p.warn(n, "%s is set by Netlify itself; a custom value is ignored", canon)
		return
	}
	if i, ok := p.curSeen[canon]; ok {
		joined := p.cur.Set[i].Value + ", " + value
		if len(joined) > MaxValueBytes {
			p.warn(n, "joined value of %s longer than %d bytes ignored", canon, MaxValueBytes)
			return
		}
		p.cur.Set[i].Value = joined
		return
	}
	if len(p.cur.Set) >= MaxHeadersPerRule {
		p.warn(n, "more than %d headers in one rule; %s ignored", MaxHeadersPerRule, canon)
		return
	}
	p.curSeen[canon] = len(p.cur.Set)
	p.cur.Set = append(p.cur.Set, Field{Name: canon, Value: value})
}

// isPatternLine follows the hosts' parsers: Netlify treats a line that
// starts with "/" as a path; Cloudflare also takes "scheme://..." (and then
// refuses anything but https).
func (p *parser) isPatternLine(line string) bool {
	if strings.HasPrefix(line, "/") {
		return true
	}
	return p.out.Format == Cloudflare && schemeRE().MatchString(line)
}

// flush ends the current rule.
func (p *parser) flush() {
	r := p.cur
	p.cur = nil
	if r == nil {
		return
	}
	if len(r.Set) == 0 && len(r.Unset) == 0 {
		p.warn(r.Line, "rule %q has no headers", r.Pattern)
		return
	}
	if p.out.Format == Cloudflare {
		// Cloudflare keys rules by pattern: a repeated pattern replaces
		// the earlier block, in the earlier block's place.
		if i, ok := p.byPattern[r.Pattern]; ok {
			p.warn(r.Line, "pattern %q repeats line %d; the later block replaces it", r.Pattern, p.out.Rules[i].Line)
			p.out.Rules[i] = *r
			return
		}
		p.byPattern[r.Pattern] = len(p.out.Rules)
	}
	p.out.Rules = append(p.out.Rules, *r)
}

func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// compile validates a pattern line and builds its matcher.
func (p *parser) compile(line string) (*Rule, error) {
	if strings.ContainsAny(line, " \t") {
		return nil, errors.New("a URL pattern cannot contain spaces")
	}
	if p.out.Format == Netlify {
		return compileNetlify(line)
	}
	return compileCloudflare(line)
}

// compileCloudflare follows Cloudflare's rules engine: "*" becomes a
// greedy :splat capture, ":name" captures up to "/" in the path and up to
// "/" or "." in the host, the whole pattern is anchored, absolute patterns
// must be https without a port and match "https://" + host + path.
func compileCloudflare(line string) (*Rule, error) {
	var host, path string
	absolute := false
	if rest, ok := strings.CutPrefix(line, "https://"); ok {
		absolute = true
		rest = strings.TrimLeft(rest, "/")
		host, path, _ = strings.Cut(rest, "/")
		path = "/" + path
		if host == "" {
			return nil, errors.New("an absolute URL needs a host")
		}
		if hostHasPort(host) {
			return nil, errors.New("ports are not supported in absolute URLs")
		}
		host = strings.ToLower(host)
	} else if strings.HasPrefix(line, "/") {
		path = "/" + strings.TrimLeft(line, "/")
	} else {
		return nil, errors.New("URLs should begin with a forward slash or https://")
	}
	pattern := path
	if absolute {
		pattern = "https://" + host + path
	}
	if strings.Count(pattern, "*") > 1 {
		return nil, errors.New("only one splat (*) is allowed")
	}
	var names []string
	seen := map[string]bool{}
	var b strings.Builder
	b.WriteString("^")
	emit := func(s string, inHost bool) error {
		// s has no "*"; translate placeholders, quote the rest.
		last := 0
		for _, loc := range placeholderRE().FindAllStringIndex(s, -1) {
			b.WriteString(regexp.QuoteMeta(s[last:loc[0]]))
			name := s[loc[0]+1 : loc[1]]
			if seen[name] || name == "splat" {
				return fmt.Errorf("placeholder :%s is used more than once", name)
			}
			seen[name] = true
			names = append(names, name)
			if inHost {
				b.WriteString(`([^/.]+)`)
			} else {
				b.WriteString(`([^/]+)`)
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(s[last:]))
		return nil
	}
	write := func(s string, inHost bool) error {
		before, after, splat := strings.Cut(s, "*")
		if err := emit(before, inHost); err != nil {
			return err
		}
		if splat {
			names = append(names, "splat")
			b.WriteString(`(.*)`)
			return emit(after, inHost)
		}
		return nil
	}
	if absolute {
		b.WriteString(regexp.QuoteMeta("https://"))
		if err := write(host, true); err != nil {
			return nil, err
		}
	}
	if err := write(path, false); err != nil {
		return nil, err
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern does not compile: %v", err)
	}
	return &Rule{Pattern: pattern, absolute: absolute, re: re, names: names}, nil
}

// hostHasPort reports a ":" in host that does not start a label (a label
// that starts with ":" is a placeholder, as in "https://:project.pages.dev").
func hostHasPort(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] == ':' && i > 0 && host[i-1] != '.' {
			return true
		}
	}
	return false
}

// compileNetlify follows netlify/build's headers-parser: the pattern is
// split at "/", a ":placeholder" part matches one segment, a standalone "*"
// part matches the rest (also nothing), a "*" inside a part matches any
// characters; a trailing slash is optional and case is ignored.
func compileNetlify(line string) (*Rule, error) {
	if !strings.HasPrefix(line, "/") {
		return nil, errors.New("paths should begin with a forward slash")
	}
	parts := strings.Split(line, "/")
	var b strings.Builder
	b.WriteString("(?i)^")
	var names []string
	n := 0
	for _, part := range parts {
		if part == "" {
			continue
		}
		n++
		switch {
		case strings.HasPrefix(part, ":"):
			b.WriteString(`/([^/]+)`)
			names = append(names, part[1:])
		case part == "*":
			b.WriteString(`(?:/(.*))?`)
			names = append(names, "splat")
		case strings.Contains(part, "*"):
			b.WriteString("/")
			segs := strings.Split(part, "*")
			for i, s := range segs {
				if i > 0 {
					b.WriteString(`(.*)`)
					names = append(names, "splat")
				}
				b.WriteString(regexp.QuoteMeta(s))
			}
		default:
			b.WriteString("/" + regexp.QuoteMeta(part))
		}
	}
	if n == 0 {
		b.WriteString("/$")
	} else {
		b.WriteString("/?$")
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern does not compile: %v", err)
	}
	return &Rule{Pattern: line, re: re, names: names}, nil
}

// Match is what the rules assign to one request.
type Match struct {
	// Header holds each assigned header once, canonical name, values of
	// several rules combined per the format.
	Header http.Header
	// Detached lists headers a Cloudflare "!" rule removed and no later
	// rule set again.
	Detached []string
	// Lines are the pattern lines of the rules that matched, in order.
	Lines []int
}

// For returns the headers the rules assign to a request for path (an
// absolute path such as "/assets/app.js"; a missing leading slash is
// added). Absolute-URL patterns never match here: use ForURL to include
// them. The result is never nil.
func (r *Rules) For(path string) http.Header {
	return r.Resolve("", path).Header
}

// ForURL is For with the request's host, so Cloudflare's absolute-URL
// patterns apply too (they ignore scheme and port, as the host does).
func (r *Rules) ForURL(u *url.URL) http.Header {
	return r.Resolve(u.Hostname(), u.EscapedPath()).Header
}

// Resolve returns the full match for a request to host (may be empty) and
// path. Cloudflare: rules apply in file order; a "!" detach removes the
// header from what earlier rules set; a header set again is joined with
// ", "; ":name" and ":splat" in values are replaced by what they matched.
// Netlify: the later matching rule's value of a header replaces an earlier
// one.
func (r *Rules) Resolve(host, path string) Match {
	m := Match{Header: http.Header{}}
	if r == nil {
		return m
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if len(path) > MaxPathBytes {
		path = path[:MaxPathBytes]
	}
	host = strings.ToLower(host)
	detached := map[string]bool{}
	for i := range r.Rules {
		rule := &r.Rules[i]
		subject := path
		if rule.absolute {
			if host == "" {
				continue
			}
			subject = "https://" + host + path
		}
		sub := rule.re.FindStringSubmatch(subject)
		if sub == nil {
			continue
		}
		m.Lines = append(m.Lines, rule.Line)
		if r.Format == Netlify {
			for _, f := range rule.Set {
				m.Header.Set(f.Name, f.Value)
			}
			continue
		}
		for _, name := range rule.Unset {
			m.Header.Del(name)
			detached[name] = true
		}
		for _, f := range rule.Set {
			v := substitute(f.Value, rule.names, sub[1:])
			if old := m.Header.Get(f.Name); old != "" {
				v = old + ", " + v
			}
			m.Header.Set(f.Name, v)
			delete(detached, f.Name)
		}
	}
	for name := range detached {
		m.Detached = append(m.Detached, name)
	}
	slices.Sort(m.Detached)
	return m
}

// substitute replaces ":name" in v with what the placeholder matched,
// longest names first so ":title" does not eat ":titles". The result is
// bounded by MaxValueBytes.
func substitute(v string, names, vals []string) string {
	if len(names) == 0 || !strings.Contains(v, ":") {
		return v
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	// strings.Replacer tries old strings in argument order.
	slices.SortStableFunc(order, func(a, b int) int { return len(names[b]) - len(names[a]) })
	pairs := make([]string, 0, 2*len(names))
	for _, i := range order {
		if i < len(vals) {
			pairs = append(pairs, ":"+names[i], vals[i])
		}
	}
	out := strings.NewReplacer(pairs...).Replace(v)
	if len(out) > MaxValueBytes {
		out = out[:MaxValueBytes]
	}
	return out
}
