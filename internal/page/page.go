// Package page extracts every integrity-relevant resource declaration from
// an HTML page: <script src>, <link href> with a loading rel (stylesheet,
// modulepreload, preload) and the "integrity" section of import maps.
//
// It reads the page with the golang.org/x/net/html tokenizer (never with
// regular expressions), bounds the bytes, tokens and declarations it accepts,
// and never panics on malformed input.
package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Limits on hostile input.
const (
	// DefaultMaxBytes bounds the page when the caller passes max <= 0.
	DefaultMaxBytes = 10 << 20
	// MaxDeclarations bounds how many declarations one page may yield.
	MaxDeclarations = 10000
	// MaxTokens bounds how many tokens the tokenizer may produce.
	MaxTokens = 2_000_000
	// MaxTokenBytes bounds the size of a single token (tag, text or comment),
	// which also bounds an inline import map.
	MaxTokenBytes = 4 << 20
)

// Declaration is one resource the page declares, with its integrity
// metadata if it has any.
type Declaration struct {
	Element     string // "script" | "link" | "importmap"
	Attr        string // "src" | "href" | "" for importmap entries
	Ref         string // raw attribute value / importmap key
	URL         string // resolved absolute URL (against base, honoring the first <base href>); "" if unresolvable
	Integrity   string // raw integrity attribute ("" when absent)
	Type        string // type attribute of <script>/<link>
	Rel         string // rel attribute of <link>
	CrossOrigin string // crossorigin attribute
}

// loadingRels are the <link rel> tokens whose fetch honours integrity.
var loadingRels = map[string]bool{"stylesheet": true, "modulepreload": true, "preload": true}

// Declarations returns every <script src>, every <link href> whose rel holds
// stylesheet, modulepreload or preload (with or without integrity) and every
// import map "integrity" entry, in document order.
//
// URLs are resolved against base, or, from the first <base href> on,
// against that base's URL, as a browser resolves parser-inserted elements.
// An import map that is not valid JSON is skipped, as a browser would skip
// it. Pages over max bytes (DefaultMaxBytes when max <= 0), and pages
// beyond MaxTokens, MaxTokenBytes or MaxDeclarations, give an
// ErrInconclusive-class error ("too-large" / "page-too-complex").
func Declarations(r io.Reader, base *url.URL, max int64) ([]Declaration, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	lr := &io.LimitedReader{R: r, N: max + 1}
	z := html.NewTokenizer(lr)
	z.SetMaxBuf(MaxTokenBytes)
	p := parser{base: base}
	for tokens := 0; ; tokens++ {
		if tokens >= MaxTokens {
			return nil, verdict.Inconclusivef("page-too-complex", "HTML page has more than %d tokens; it cannot be checked", MaxTokens)
		}
		tt := z.Next()
		if lr.N <= 0 {
			return nil, verdict.Inconclusivef("too-large", "HTML page is larger than %d bytes; raise the page size limit", max)
		}
		switch tt {
		case html.ErrorToken:
			err := z.Err()
			switch {
			case errors.Is(err, io.EOF):
				return p.out, nil
			case errors.Is(err, html.ErrBufferExceeded):
				return nil, verdict.Inconclusivef("page-too-complex", "HTML page has a token larger than %d bytes; it cannot be checked", MaxTokenBytes)
			default:
				return nil, verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("read HTML page: %w", err))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			p.startTag(z, string(name), hasAttr)
		}
		if len(p.out) > MaxDeclarations {
			return nil, verdict.Inconclusivef("page-too-complex", "HTML page declares more than %d resources; it cannot be checked", MaxDeclarations)
		}
	}
}

// parser holds the state of one Declarations call.
type parser struct {
	base    *url.URL
	baseSet bool // the first <base href> has been seen
	out     []Declaration
}

// attrs returns the tag's attributes, keeping the first of duplicates as the
// HTML parser does. Keys are already lower-cased by the tokenizer.
func attrs(z *html.Tokenizer, hasAttr bool) map[string]string {
	m := map[string]string{}
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		if _, dup := m[string(k)]; !dup {
			m[string(k)] = string(v)
		}
	}
	return m
}

func (p *parser) startTag(z *html.Tokenizer, name string, hasAttr bool) {
	switch name {
	case "base":
		a := attrs(z, hasAttr)
		href, ok := a["href"]
		if ok && !p.baseSet {
			p.baseSet = true
			if u := p.resolve(href); u != nil {
				p.base = u
			}
		}
	case "script":
		a := attrs(z, hasAttr)
		typ := strings.ToLower(strings.Trim(a["type"], asciiSpace))
		if typ == "importmap" {
			// The tokenizer, like a browser, treats what follows <script>
			// (even written as <script/>) as raw text: the next token is
			// its whole body, or the end tag when it is empty.
			if z.Next() == html.TextToken {
				p.importMap(z.Text())
			}
			return
		}
		if src, ok := a["src"]; ok {
			p.add(Declaration{Element: "script", Attr: "src", Ref: src, Integrity: a["integrity"], Type: a["type"], CrossOrigin: a["crossorigin"]})
		}
	case "link":
		a := attrs(z, hasAttr)
		href, ok := a["href"]
		if !ok || !hasLoadingRel(a["rel"]) {
			return
		}
		p.add(Declaration{Element: "link", Attr: "href", Ref: href, Integrity: a["integrity"], Type: a["type"], Rel: a["rel"], CrossOrigin: a["crossorigin"]})
	}
}

const asciiSpace = "\t\n\f\r "

func hasLoadingRel(rel string) bool {
	for _, tok := range strings.FieldsFunc(rel, func(r rune) bool { return strings.ContainsRune(asciiSpace, r) }) {
		if loadingRels[strings.ToLower(tok)] {
			return true
		}
	}
	return false
}

// add resolves d.Ref and appends d.
func (p *parser) add(d Declaration) {
	if u := p.resolve(d.Ref); u != nil {
		d.URL = u.String()
	}
	p.out = append(p.out, d)
}

// resolve parses ref (trimmed of ASCII whitespace, as browsers do) against
// the current base. It returns nil when ref is empty or unparsable, or when
// the result is not absolute.
func (p *parser) resolve(ref string) *url.URL {
	ref = strings.Trim(ref, asciiSpace)
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if p.base != nil {
		u = p.base.ResolveReference(u)
	}
	if !u.IsAbs() {
		return nil
	}
	return u
}

// importMap appends the entries of the map's "integrity" object in the order
// they are first written (a repeated key keeps its first position and its
// last value, like JSON.parse). Keys that are not URL-like (absolute, or
// starting with "/", "./" or "../") do not resolve, as in the HTML import map
// rules; they are still reported, with an empty URL. Entries whose value is
// not a string are ignored, and so is a map that is not a valid JSON object,
// as a browser would ignore it.
func (p *parser) importMap(body []byte) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return
	}
	raw, ok := top["integrity"]
	if !ok {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return
	}
	index := map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return
		}
		ks, _ := k.(string)
		var integrity string
		isString := json.Unmarshal(v, &integrity) == nil
		if i, dup := index[ks]; dup {
			if isString {
				p.out[i].Integrity = integrity
			} else {
				p.out[i].Integrity = ""
			}
			continue
		}
		if !isString {
			continue
		}
		d := Declaration{Element: "importmap", Ref: ks, Integrity: integrity}
		if urlLike(ks) {
			if u := p.resolve(ks); u != nil {
				d.URL = u.String()
			}
		}
		index[ks] = len(p.out)
		p.out = append(p.out, d)
		if len(p.out) > MaxDeclarations {
			return
		}
	}
}

// urlLike reports whether an import map key is URL-like: a relative
// reference starting with "/", "./" or "../", or an absolute URL.
func urlLike(k string) bool {
	if strings.HasPrefix(k, "/") || strings.HasPrefix(k, "./") || strings.HasPrefix(k, "../") {
		return true
	}
	u, err := url.Parse(k)
	return err == nil && u.IsAbs()
}
