package headers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ReasonHeaderMismatch is the check reason for a header that a release
// (its `_headers`) or the header policy requires and the live response
// does not carry as required.
const ReasonHeaderMismatch = "header-mismatch"

// Mismatch is one header of one path that is not served as declared.
// Expected and Actual hold network text: escape before display.
type Mismatch struct {
	Path     string   `json:"path"`
	Header   string   `json:"header"`
	Expected string   `json:"expected"`
	Actual   string   `json:"actual,omitempty"`
	Missing  bool     `json:"missing,omitempty"`
	Details  []string `json:"details,omitempty"`
	// Policy says the header policy, not `_headers`, asked for Expected.
	Policy bool `json:"policy,omitempty"`
}

// String is a one-line description naming the header and the path.
func (m Mismatch) String() string {
	verb := "declared"
	if m.Policy {
		verb = "required"
	}
	if m.Missing {
		s := fmt.Sprintf("%s: %s is not served (%s: %s)", m.Path, m.Header, verb, m.Expected)
		if len(m.Details) > 0 {
			s += ": " + strings.Join(m.Details, "; ")
		}
		return s
	}
	if len(m.Details) > 0 {
		return fmt.Sprintf("%s: %s differs: %s", m.Path, m.Header, strings.Join(m.Details, "; "))
	}
	return fmt.Sprintf("%s: %s is %q, %s %q", m.Path, m.Header, m.Actual, verb, m.Expected)
}

// FieldValue joins a header's field lines with ", " as HTTP combines them
// (RFC 9110 section 5.3). ok is false when the header is absent.
func FieldValue(h http.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	trimmed := make([]string, len(vs))
	for i, v := range vs {
		trimmed[i] = strings.Trim(v, " \t")
	}
	return strings.Join(trimmed, ", "), true
}

// Compare checks that every header in want is present in got with the
// same value, for the request path (used only to label mismatches).
// Content-Security-Policy (and -Report-Only) are compared policy by policy
// and directive by directive; Permissions-Policy, Integrity-Policy and
// Integrity-Policy-Report-Only member by member as RFC 9651 dictionaries;
// every other header as a string, after trimming optional whitespace.
// Headers in got that want does not name are not looked at.
func Compare(path string, want, got http.Header) []Mismatch {
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []Mismatch
	for _, name := range names {
		w, _ := FieldValue(want, name)
		g, ok := FieldValue(got, name)
		m := Mismatch{Path: path, Header: name, Expected: w, Actual: g}
		if !ok {
			m.Missing = true
			out = append(out, m)
			continue
		}
		if details, equal := compareValue(name, w, g); !equal {
			m.Details = details
			out = append(out, m)
		}
	}
	return out
}

// compareValue compares one header by its kind.
func compareValue(name, want, got string) ([]string, bool) {
	switch http.CanonicalHeaderKey(name) {
	case "Content-Security-Policy", "Content-Security-Policy-Report-Only":
		details, err := DiffCSP(want, got)
		if err != nil {
			// The declared value itself cannot be parsed: fall back to bytes.
			return nil, want == got
		}
		return details, len(details) == 0
	case "Permissions-Policy", "Integrity-Policy", "Integrity-Policy-Report-Only":
		details, err := DiffDictionary(want, got)
		if err != nil {
			return nil, want == got
		}
		return details, len(details) == 0
	}
	return nil, want == got
}

// DiffDictionary compares two RFC 9651 Dictionary field values member by
// member. The items of an inner list are compared as a set (an allowlist
// or a list of destinations has no order), and a single item equals an
// inner list holding just that item (Permissions-Policy treats them
// alike). It returns an error only when want does not parse; a got that
// does not parse is a difference (the browser ignores that field).
func DiffDictionary(want, got string) ([]string, error) {
	wd, err := ParseDictionary(want)
	if err != nil {
		return nil, err
	}
	gd, err := ParseDictionary(got)
	if err != nil {
		return []string{fmt.Sprintf("served value is not a structured-field dictionary, so browsers ignore it: %v", err)}, nil
	}
	var out []string
	for _, wm := range wd {
		gm, ok := gd.Get(wm.Key)
		if !ok {
			out = append(out, fmt.Sprintf("member %s is missing", wm.Key))
			continue
		}
		if a, b := memberCanonical(wm), memberCanonical(gm); a != b {
			out = append(out, fmt.Sprintf("%s is %s, declared %s", wm.Key, b, a))
		}
	}
	for _, gm := range gd {
		if _, ok := wd.Get(gm.Key); !ok {
			out = append(out, fmt.Sprintf("extra member %s", Dictionary{gm}.String()))
		}
	}
	return out, nil
}

// memberCanonical serializes a member with its inner-list items sorted.
func memberCanonical(m Member) string {
	list, params := m.List, m.Params
	if !m.Inner {
		list, params = []Item{m.Item}, nil
	}
	items := make([]string, len(list))
	for i, it := range list {
		var b strings.Builder
		writeItem(&b, it)
		items[i] = b.String()
	}
	slices.Sort(items)
	items = slices.Compact(items)
	var b strings.Builder
	b.WriteString("(" + strings.Join(items, " ") + ")")
	writeParams(&b, params)
	return b.String()
}
