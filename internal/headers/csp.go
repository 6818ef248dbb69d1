package headers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This file parses Content-Security-Policy values the way a browser does
// (CSP Level 3, "parse a serialized CSP" and "parse a response's Content
// Security Policies"), and compares policies by directive.

// ErrCSPTooLarge is returned when a CSP value exceeds MaxPolicyBytes, or a
// policy MaxDirectives directives or a directive MaxSources sources.
var ErrCSPTooLarge = errors.New("content security policy too large")

// Directive is one CSP directive: a lowercase name and its source
// expressions, normalized (see normalizeSource), in the order written.
type Directive struct {
	Name   string
	Values []string
}

// Policy is one serialized CSP. A browser ignores a repeated directive;
// Parse keeps only the first, so Directives holds what is enforced.
type Policy struct {
	Directives []Directive
	// Ignored counts directives dropped as duplicates or as non-ASCII.
	Ignored int
}

// Get returns the named directive (name is case-insensitive).
func (p Policy) Get(name string) (Directive, bool) {
	name = strings.ToLower(name)
	for _, d := range p.Directives {
		if d.Name == name {
			return d, true
		}
	}
	return Directive{}, false
}

// ParseCSP parses a Content-Security-Policy field value: one or more
// policies separated by commas (several field lines are joined with ", "
// first). Each policy is split at ";", each directive at ASCII whitespace;
// empty policies are dropped as browsers drop them.
func ParseCSP(value string) ([]Policy, error) {
	if len(value) > MaxPolicyBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrCSPTooLarge, MaxPolicyBytes)
	}
	var out []Policy
	for _, serialized := range strings.Split(value, ",") {
		p, err := parseSerializedCSP(serialized)
		if err != nil {
			return nil, err
		}
		if len(p.Directives) > 0 || p.Ignored > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func isASCIISpace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\f' || r == '\r' || r == ' '
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// parseSerializedCSP is CSP3 section 2.2.1.
func parseSerializedCSP(s string) (Policy, error) {
	var p Policy
	for _, token := range strings.Split(s, ";") {
		token = strings.TrimFunc(token, isASCIISpace)
		if token == "" {
			continue
		}
		if !isASCII(token) {
			p.Ignored++
			continue
		}
		fields := strings.FieldsFunc(token, isASCIISpace)
		name := strings.ToLower(fields[0])
		if _, dup := p.Get(name); dup {
			p.Ignored++
			continue
		}
		if len(p.Directives) >= MaxDirectives {
			return Policy{}, fmt.Errorf("%w: more than %d directives", ErrCSPTooLarge, MaxDirectives)
		}
		if len(fields)-1 > MaxSources {
			return Policy{}, fmt.Errorf("%w: directive %s has more than %d values", ErrCSPTooLarge, name, MaxSources)
		}
		d := Directive{Name: name}
		for _, v := range fields[1:] {
			d.Values = append(d.Values, normalizeSource(v))
		}
		p.Directives = append(p.Directives, d)
	}
	return p, nil
}

// normalizeSource lowercases what CSP matches without regard to case:
// keywords ('self', 'none', 'unsafe-inline', ...), the prefix of nonce and
// hash sources (their base64 value stays as written), schemes and hosts.
// Paths stay as written: CSP path matching is case-sensitive.
func normalizeSource(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		inner := v[1 : len(v)-1]
		lower := strings.ToLower(inner)
		for _, prefix := range []string{"nonce-", "sha256-", "sha384-", "sha512-"} {
			if strings.HasPrefix(lower, prefix) {
				return "'" + prefix + inner[len(prefix):] + "'"
			}
		}
		return "'" + lower + "'"
	}
	// scheme-source ("https:", "data:") or host-source ("https://a.example/p").
	scheme, rest, hasScheme := strings.Cut(v, "://")
	if !hasScheme {
		if strings.HasSuffix(v, ":") && !strings.ContainsAny(v, "/") {
			return strings.ToLower(v)
		}
		scheme, rest = "", v
	}
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	host = strings.ToLower(host)
	if hasScheme {
		return strings.ToLower(scheme) + "://" + host + path
	}
	return host + path
}

// canonical returns the policy as a comparable string: directives sorted
// by name, each with its sorted, de-duplicated values.
func (p Policy) canonical() string {
	ds := make([]string, 0, len(p.Directives))
	for _, d := range p.Directives {
		vals := slices.Clone(d.Values)
		slices.Sort(vals)
		vals = slices.Compact(vals)
		ds = append(ds, Directive{Name: d.Name, Values: vals}.String())
	}
	slices.Sort(ds)
	return strings.Join(ds, "; ")
}

// String serializes the policy as parsed (directives in order).
func (p Policy) String() string {
	ds := make([]string, 0, len(p.Directives))
	for _, d := range p.Directives {
		ds = append(ds, d.String())
	}
	return strings.Join(ds, "; ")
}

// String serializes the directive: its name, then its values.
func (d Directive) String() string {
	if len(d.Values) == 0 {
		return d.Name
	}
	return d.Name + " " + strings.Join(d.Values, " ")
}

// valueSet returns a directive's values as a set.
func valueSet(d Directive) map[string]bool {
	m := make(map[string]bool, len(d.Values))
	for _, v := range d.Values {
		m[v] = true
	}
	return m
}

// DiffPolicy describes how got differs from want, directive by directive,
// in plain sentences (empty when they enforce the same thing). Source order,
// keyword case, whitespace and repeated sources do not matter.
func DiffPolicy(want, got Policy) []string {
	var out []string
	for _, wd := range want.Directives {
		gd, ok := got.Get(wd.Name)
		if !ok {
			out = append(out, fmt.Sprintf("directive %s is missing", wd.Name))
			continue
		}
		ws, gs := valueSet(wd), valueSet(gd)
		var added, removed []string
		for v := range gs {
			if !ws[v] {
				added = append(added, v)
			}
		}
		for v := range ws {
			if !gs[v] {
				removed = append(removed, v)
			}
		}
		slices.Sort(added)
		slices.Sort(removed)
		if len(added) > 0 {
			out = append(out, fmt.Sprintf("%s adds %s", wd.Name, strings.Join(added, " ")))
		}
		if len(removed) > 0 {
			out = append(out, fmt.Sprintf("%s lacks %s", wd.Name, strings.Join(removed, " ")))
		}
	}
	for _, gd := range got.Directives {
		if _, ok := want.Get(gd.Name); !ok {
			out = append(out, fmt.Sprintf("extra directive %s", gd.String()))
		}
	}
	return out
}

// DiffCSP compares two CSP field values policy by policy. Policies are
// matched regardless of their order; with one policy on each side the
// differences are listed by directive.
func DiffCSP(want, got string) ([]string, error) {
	wp, err := ParseCSP(want)
	if err != nil {
		return nil, fmt.Errorf("declared policy: %w", err)
	}
	gp, err := ParseCSP(got)
	if err != nil {
		return []string{fmt.Sprintf("served policy cannot be parsed: %v", err)}, nil
	}
	if len(wp) == 1 && len(gp) == 1 {
		return DiffPolicy(wp[0], gp[0]), nil
	}
	remaining := make([]string, 0, len(gp))
	for _, p := range gp {
		remaining = append(remaining, p.canonical())
	}
	var out []string
	for _, p := range wp {
		c := p.canonical()
		if i := slices.Index(remaining, c); i >= 0 {
			remaining = slices.Delete(remaining, i, i+1)
			continue
		}
		out = append(out, fmt.Sprintf("policy %q is not served", p.String()))
	}
	for _, c := range remaining {
		out = append(out, fmt.Sprintf("extra policy %q", c))
	}
	return out, nil
}
