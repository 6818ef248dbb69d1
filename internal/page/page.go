// Package page finds what an HTML page makes a browser run, apply or embed,
// following the browser's own rules, and the integrity metadata that pins
// it. Parse returns both: References (for accounting: every one must be a
// verified file, a pinned resource or an allowed one) and Declarations (the
// integrity attributes and import map entries, for the SRI checks).
//
// The page is parsed with the HTML tree builder of golang.org/x/net/html
// (never with regular expressions), as a browser with scripting enabled
// parses it, after a tokenizer pass that bounds its bytes and tokens. It
// never panics on malformed input.
//
// # The rules
//
// These follow the WHATWG HTML Standard ("prepare the script element",
// "link type" keywords, "fetch an import map", "shared declarative refresh
// steps", "document base URL") and W3C Subresource Integrity.
//
//   - <script src>: the type decides. No type (or an empty one), or a
//     JavaScript MIME type (text/javascript, application/ecmascript, ...),
//     is a classic script; "module" (any case, trimmed) a module script;
//     "importmap" an import map (src is not supported: nothing is
//     fetched); "speculationrules" a rule set. Any other type (text/plain,
//     text/template, application/json, a misspelling) is a data block: the
//     browser runs nothing, so it is neither a reference nor a declaration.
//     Without a type attribute, a non-empty language attribute gives the
//     type text/<language>. A classic script with nomodule still counts:
//     older browsers run it. An SVG <script> loads href or xlink:href.
//   - A script element without src whose type is executable is an inline
//     script ("inline-script"), and so is every event-handler attribute
//     (on*) and every javascript: URL in href, src, action, formaction or
//     data. A non-empty <style> element is an inline style. style=""
//     attributes are not counted (they cannot load code).
//   - <link href>: rel stylesheet, modulepreload, and preload with as=
//     script, style, worker, sharedworker, serviceworker, audioworklet,
//     paintworklet or xslt are references. Other rels (icon, prefetch,
//     manifest, preconnect, ...) load nothing that runs in the page.
//   - <iframe src>, <frame src>, <object data> and <embed src> are frames.
//     An iframe's srcdoc is a document of its own: it is parsed with the
//     same rules (nested at most MaxSrcdocDepth deep) and its references
//     belong to the page.
//   - The first <base href> sets the base URL for everything after it, and
//     is itself a reference ("base"): a base elsewhere moves every relative
//     URL.
//   - <meta http-equiv=refresh> with a URL is a reference ("refresh"): the
//     browser navigates there. <meta http-equiv=content-security-policy> is
//     reported ("csp"); it can only add restrictions.
//   - Import maps: every address in "imports" and "scopes" is a reference
//     ("importmap"): module specifiers resolve to it. Each "integrity" entry
//     is a declaration.
//   - Inert markup is skipped, as the browser skips it: comments, <template>
//     content (unless the template is a declarative shadow root, which is
//     live), the content of <noscript> (raw text when scripting is on),
//     <textarea>, <title>, <xmp>, <noembed>, <noframes> and <iframe>.
//   - Pins: a module script (or modulepreload) without an integrity
//     attribute gets the integrity that an earlier <link rel=modulepreload
//     integrity> for the same URL, or an earlier import map "integrity"
//     entry, gives it: the browser applies those. An integrity attribute
//     that exists, even empty, wins over the import map, as in the
//     standard. Classic scripts take no pin from either.
//
// Integrity declarations count attributes that exist (HasIntegrity), never
// a reference without one.
package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Limits on hostile input.
const (
	// MaxSrcdocDepth bounds how deep iframe srcdoc documents are followed.
	MaxSrcdocDepth = 3
	// DefaultMaxBytes bounds the page when the caller passes max <= 0.
	DefaultMaxBytes = 10 << 20
	// MaxDeclarations bounds how many declarations (and, separately,
	// references) one page may yield.
	MaxDeclarations = 10000
	// MaxTokens bounds how many tokens the tokenizer may produce.
	MaxTokens = 2_000_000
	// MaxElements bounds the start tags of a page, which bounds the tree the
	// HTML parser builds (and its memory).
	MaxElements = 200_000
	// MaxTokenBytes bounds the size of a single token (tag, text or comment),
	// which also bounds an inline import map.
	MaxTokenBytes = 4 << 20
	// maxCode bounds the excerpt of inline code kept in a Reference.
	maxCode = 80
)

// Kind is what a reference makes the browser do.
type Kind string

// The kinds of references (see the package documentation).
const (
	KindScript        Kind = "script"        // a classic script
	KindModule        Kind = "module"        // a module script
	KindStylesheet    Kind = "stylesheet"    // <link rel=stylesheet>
	KindModulePreload Kind = "modulepreload" // <link rel=modulepreload>
	KindPreload       Kind = "preload"       // <link rel=preload> of code or style
	KindImportMap     Kind = "importmap"     // an address an import map maps to
	KindRuleSet       Kind = "speculationrules"
	KindFrame         Kind = "frame"   // iframe, frame, object, embed
	KindBase          Kind = "base"    // the first <base href>
	KindRefresh       Kind = "refresh" // <meta http-equiv=refresh> with a URL
	KindCSP           Kind = "csp"     // <meta http-equiv=content-security-policy>
	KindInlineScript  Kind = "inline-script"
	KindEventHandler  Kind = "event-handler"
	KindJavaScriptURL Kind = "javascript-url"
	KindInlineStyle   Kind = "inline-style"
)

// Inline reports whether the kind is code written in the page itself.
func (k Kind) Inline() bool {
	switch k {
	case KindInlineScript, KindEventHandler, KindJavaScriptURL, KindInlineStyle:
		return true
	}
	return false
}

// Enforced reports whether the browser checks integrity metadata on a
// reference of this kind (scripts, styles, modulepreload and preload).
func (k Kind) Enforced() bool {
	switch k {
	case KindScript, KindModule, KindStylesheet, KindModulePreload, KindPreload:
		return true
	}
	return false
}

// Reference is one thing the page makes the browser run, apply or embed.
type Reference struct {
	Kind    Kind
	Element string // tag name, e.g. "script", "link", "iframe", "meta"
	Attr    string // the attribute that holds Ref, e.g. "src", "href", "onclick"
	Ref     string // raw attribute value, import map address, meta content or inline excerpt
	URL     string // resolved absolute URL; "" for inline code or when unresolvable
	// Integrity is the metadata the browser applies: the attribute's value,
	// or a pin (PinnedBy) for a module script without the attribute.
	Integrity    string
	HasIntegrity bool   // the integrity attribute exists on the element
	PinnedBy     string // "modulepreload" or "importmap" when Integrity comes from a pin
	CrossOrigin  string
	// Srcdoc is how many iframe srcdoc documents deep the reference is (0:
	// the page itself).
	Srcdoc int
}

// Declaration is one resource the page declares, with its integrity
// metadata if it has any.
type Declaration struct {
	Element string // "script" | "link" | "importmap"
	Attr    string // "src" | "href" | "" for importmap entries
	Ref     string // raw attribute value / importmap key
	URL     string // resolved absolute URL (against base, honoring the first <base href>); "" if unresolvable
	// Integrity is the raw integrity attribute ("" when absent), or the pin
	// the browser applies (PinnedBy) to a module script without one.
	Integrity    string
	HasIntegrity bool   // the integrity attribute (or import map entry) exists
	PinnedBy     string // "modulepreload" | "importmap" | ""
	Type         string // type attribute of <script>/<link>
	Rel          string // rel attribute of <link>
	CrossOrigin  string // crossorigin attribute
	// HasCrossOrigin says the crossorigin attribute is present (an empty
	// value, as in <script crossorigin>, means anonymous).
	HasCrossOrigin bool
	As             string // as attribute of <link rel=preload>
}

// Document is what Parse found on a page.
type Document struct {
	References   []Reference
	Declarations []Declaration
}

// IntegrityDeclarations counts the integrity metadata that exists on the
// page (attributes and import map entries).
func (d *Document) IntegrityDeclarations() int {
	n := 0
	for _, x := range d.Declarations {
		if x.HasIntegrity {
			n++
		}
	}
	return n
}

// WithoutIntegrity counts script, style and preload references that carry
// no integrity attribute (a pin may still apply to them).
func (d *Document) WithoutIntegrity() int {
	n := 0
	for _, r := range d.References {
		if r.Kind.Enforced() && !r.HasIntegrity {
			n++
		}
	}
	return n
}

// Declarations returns the integrity-relevant declarations of a page (see
// Parse): every <script src> that the browser would run, every <link href>
// whose rel holds stylesheet, modulepreload or preload (with or without
// integrity) and every import map "integrity" entry, in document order.
func Declarations(r io.Reader, base *url.URL, max int64) ([]Declaration, error) {
	d, err := Parse(r, base, max)
	if err != nil {
		return nil, err
	}
	return d.Declarations, nil
}

// Parse reads a page of at most max bytes (DefaultMaxBytes when max <= 0)
// and returns its references and declarations, with URLs resolved against
// base (the page's URL) or the first <base href>. Pages over max bytes, or
// beyond MaxTokens, MaxTokenBytes or MaxDeclarations, give an
// ErrInconclusive-class error ("too-large" / "page-too-complex").
func Parse(r io.Reader, base *url.URL, max int64) (*Document, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("read HTML page: %w", err))
	}
	if int64(len(data)) > max {
		return nil, verdict.Inconclusivef("too-large", "HTML page is larger than %d bytes; raise the page size limit", max)
	}
	w := &walker{base: base}
	if err := w.document(data, 0); err != nil {
		return nil, err
	}
	return &Document{References: w.refs, Declarations: w.decls}, nil
}

// bounded runs the tokenizer over data to enforce MaxTokens and MaxTokenBytes
// before the tree builder sees it.
func bounded(data []byte) error {
	z := html.NewTokenizer(bytes.NewReader(data))
	z.SetMaxBuf(MaxTokenBytes)
	elements := 0
	for tokens := 0; ; tokens++ {
		if tokens >= MaxTokens {
			return verdict.Inconclusivef("page-too-complex", "HTML page has more than %d tokens; it cannot be checked", MaxTokens)
		}
		tt := z.Next()
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			if elements++; elements > MaxElements {
				return verdict.Inconclusivef("page-too-complex", "HTML page has more than %d elements; it cannot be checked", MaxElements)
			}
		}
		if tt == html.ErrorToken {
			err := z.Err()
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.Is(err, html.ErrBufferExceeded):
				return verdict.Inconclusivef("page-too-complex", "HTML page has a token larger than %d bytes; it cannot be checked", MaxTokenBytes)
			default:
				return verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("read HTML page: %w", err))
			}
		}
	}
}

// walker holds the state of one Parse call.
type walker struct {
	base    *url.URL
	baseSet bool // the first <base href> has been seen
	refs    []Reference
	decls   []Declaration
	// pins maps a module URL to the integrity an earlier modulepreload or
	// import map gave it.
	pins map[string]pin
	// srcdoc is the current iframe srcdoc depth.
	srcdoc int
	err    error
}

type pin struct{ integrity, by string }

// document parses one document (the page, or an iframe's srcdoc) and walks it.
func (w *walker) document(data []byte, depth int) error {
	if err := bounded(data); err != nil {
		return err
	}
	root, err := html.ParseWithOptions(bytes.NewReader(data), html.ParseOptionEnableScripting(true))
	if err != nil {
		return verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("parse HTML page: %w", err))
	}
	saved := w.srcdoc
	w.srcdoc = depth
	w.walk(root)
	w.srcdoc = saved
	return w.err
}

func (w *walker) walk(n *html.Node) {
	for ; n != nil && w.err == nil; n = n.NextSibling {
		if n.Type == html.ElementNode {
			if !w.element(n) {
				continue // inert content
			}
		}
		w.walk(n.FirstChild)
	}
}

// attrs returns the element's attributes by (namespace-prefixed) name; the
// tree builder already kept the first of duplicates.
func attrs(n *html.Node) map[string]string {
	m := make(map[string]string, len(n.Attr))
	for _, a := range n.Attr {
		k := a.Key
		if a.Namespace != "" {
			k = a.Namespace + ":" + a.Key
		}
		if _, dup := m[k]; !dup {
			m[k] = a.Val
		}
	}
	return m
}

func hasAttr(a map[string]string, k string) bool {
	_, ok := a[k]
	return ok
}

func (w *walker) add(r Reference) {
	r.Srcdoc = w.srcdoc
	if r.URL == "" && !r.Kind.Inline() && r.Kind != KindCSP {
		if u := w.resolve(r.Ref); u != nil {
			r.URL = u.String()
		}
	}
	w.refs = append(w.refs, r)
	if len(w.refs) > MaxDeclarations {
		w.fail()
	}
}

func (w *walker) declare(d Declaration) {
	if d.URL == "" {
		if u := w.resolve(d.Ref); u != nil {
			d.URL = u.String()
		}
	}
	w.decls = append(w.decls, d)
	if len(w.decls) > MaxDeclarations {
		w.fail()
	}
}

func (w *walker) fail() {
	if w.err == nil {
		w.err = verdict.Inconclusivef("page-too-complex", "HTML page declares more than %d resources; it cannot be checked", MaxDeclarations)
	}
}

// element handles one element and reports whether its children are live.
func (w *walker) element(n *html.Node) bool {
	a := attrs(n)
	w.inlineAttrs(n, a)
	if n.Namespace == "svg" {
		if n.DataAtom == atom.Script || n.Data == "script" {
			w.svgScript(n, a)
		}
		return true
	}
	if n.Namespace != "" {
		return true // MathML
	}
	switch n.DataAtom {
	case atom.Template:
		// Template content is inert, except a declarative shadow root.
		_, shadow := a["shadowrootmode"]
		return shadow
	case atom.Base:
		if href, ok := a["href"]; ok && !w.baseSet {
			w.baseSet = true
			w.add(Reference{Kind: KindBase, Element: "base", Attr: "href", Ref: href})
			if u := w.resolve(href); u != nil {
				w.base = u
			}
		}
	case atom.Script:
		w.script(n, a)
	case atom.Link:
		w.link(a)
	case atom.Style:
		if code := strings.TrimSpace(text(n)); code != "" {
			w.add(Reference{Kind: KindInlineStyle, Element: "style", Ref: excerpt(code)})
		}
	case atom.Iframe, atom.Frame:
		if src, ok := a["src"]; ok {
			w.add(Reference{Kind: KindFrame, Element: n.Data, Attr: "src", Ref: src})
		}
		if doc, ok := a["srcdoc"]; ok && n.DataAtom == atom.Iframe {
			w.srcdocFrame(doc)
		}
	case atom.Object:
		if data, ok := a["data"]; ok {
			w.add(Reference{Kind: KindFrame, Element: "object", Attr: "data", Ref: data})
		}
	case atom.Embed:
		if src, ok := a["src"]; ok {
			w.add(Reference{Kind: KindFrame, Element: "embed", Attr: "src", Ref: src})
		}
	case atom.Meta:
		w.meta(a)
	}
	return true
}

// srcdocFrame parses an iframe's srcdoc as a document of its own, with the
// embedding document's base URL (about:srcdoc inherits it).
func (w *walker) srcdocFrame(doc string) {
	if w.srcdoc+1 > MaxSrcdocDepth {
		w.err = verdict.Inconclusivef("page-too-complex", "iframe srcdoc documents are nested more than %d deep; the page cannot be checked", MaxSrcdocDepth)
		return
	}
	inner := &walker{base: w.base, pins: map[string]pin{}, srcdoc: w.srcdoc + 1}
	if err := inner.document([]byte(doc), w.srcdoc+1); err != nil {
		w.err = err
		return
	}
	for _, r := range inner.refs {
		w.refs = append(w.refs, r)
	}
	w.decls = append(w.decls, inner.decls...)
	if len(w.refs) > MaxDeclarations || len(w.decls) > MaxDeclarations {
		w.fail()
	}
}

// inlineAttrs records event-handler attributes and javascript: URLs.
func (w *walker) inlineAttrs(n *html.Node, a map[string]string) {
	for _, at := range n.Attr {
		k := strings.ToLower(at.Key)
		if at.Namespace == "" && len(k) > 2 && strings.HasPrefix(k, "on") {
			w.add(Reference{Kind: KindEventHandler, Element: n.Data, Attr: k, Ref: excerpt(at.Val)})
			continue
		}
		switch k {
		case "href", "src", "action", "formaction", "data":
			if isJavaScriptURL(at.Val) {
				w.add(Reference{Kind: KindJavaScriptURL, Element: n.Data, Attr: k, Ref: excerpt(at.Val)})
			}
		}
	}
}

// isJavaScriptURL reports whether v parses as a javascript: URL (leading and
// trailing C0 controls and spaces stripped, tabs and newlines removed, as
// the URL parser does).
func isJavaScriptURL(v string) bool {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= 0x20 })
	v = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
	return len(v) >= 11 && strings.EqualFold(v[:11], "javascript:")
}

// scriptKind classifies a script element by its type (and language)
// attribute, per "prepare the script element"; ok is false for a data block.
func scriptKind(a map[string]string) (k Kind, ok bool) {
	typ, hasType := a["type"]
	if !hasType || typ == "" {
		if lang, hasLang := a["language"]; !hasType && hasLang && lang != "" {
			typ = "text/" + lang
		} else {
			return KindScript, true
		}
	}
	t := strings.ToLower(strings.Trim(typ, asciiSpace))
	switch {
	case jsMIME[t]:
		return KindScript, true
	case t == "module":
		return KindModule, true
	case t == "importmap":
		return KindImportMap, true
	case t == "speculationrules":
		return KindRuleSet, true
	}
	return "", false
}

// jsMIME are the JavaScript MIME type essences of the MIME Sniffing Standard.
var jsMIME = map[string]bool{
	"application/ecmascript": true, "application/javascript": true, "application/x-ecmascript": true,
	"application/x-javascript": true, "text/ecmascript": true, "text/javascript": true,
	"text/javascript1.0": true, "text/javascript1.1": true, "text/javascript1.2": true, "text/javascript1.3": true,
	"text/javascript1.4": true, "text/javascript1.5": true, "text/jscript": true, "text/livescript": true,
	"text/x-ecmascript": true, "text/x-javascript": true,
}

func (w *walker) script(n *html.Node, a map[string]string) {
	kind, ok := scriptKind(a)
	if !ok {
		return // a data block: the browser runs nothing
	}
	src, hasSrc := a["src"]
	if kind == KindImportMap {
		if !hasSrc { // external import maps are not supported: nothing is fetched
			w.importMap([]byte(text(n)))
		}
		return
	}
	if !hasSrc {
		if code := strings.TrimSpace(text(n)); code != "" {
			w.add(Reference{Kind: KindInlineScript, Element: "script", Ref: excerpt(code)})
		}
		return
	}
	integrity, has := a["integrity"]
	ref := Reference{Kind: kind, Element: "script", Attr: "src", Ref: src, Integrity: integrity, HasIntegrity: has, CrossOrigin: a["crossorigin"]}
	if kind == KindModule && !has {
		w.applyPin(&ref)
	}
	w.add(ref)
	w.declare(Declaration{Element: "script", Attr: "src", Ref: src, URL: w.refs[len(w.refs)-1].URL, Integrity: ref.Integrity, HasIntegrity: has,
		PinnedBy: ref.PinnedBy, Type: a["type"], CrossOrigin: a["crossorigin"], HasCrossOrigin: hasAttr(a, "crossorigin")})
}

// svgScript records an SVG <script href> (or xlink:href) or inline SVG script.
func (w *walker) svgScript(n *html.Node, a map[string]string) {
	if typ, ok := a["type"]; ok && typ != "" {
		if t := strings.ToLower(strings.Trim(typ, asciiSpace)); !jsMIME[t] && t != "module" {
			return
		}
	}
	href, ok := a["href"]
	if !ok {
		href, ok = a["xlink:href"]
	}
	if ok {
		w.add(Reference{Kind: KindScript, Element: "svg:script", Attr: "href", Ref: href})
		return
	}
	if code := strings.TrimSpace(text(n)); code != "" {
		w.add(Reference{Kind: KindInlineScript, Element: "svg:script", Ref: excerpt(code)})
	}
}

// preloadAs are the preload destinations whose response runs or styles the page.
var preloadAs = map[string]bool{"script": true, "style": true, "worker": true, "sharedworker": true,
	"serviceworker": true, "audioworklet": true, "paintworklet": true, "xslt": true}

func (w *walker) link(a map[string]string) {
	href, ok := a["href"]
	if !ok {
		return
	}
	rels := map[string]bool{}
	for _, tok := range strings.FieldsFunc(a["rel"], func(r rune) bool { return strings.ContainsRune(asciiSpace, r) }) {
		rels[strings.ToLower(tok)] = true
	}
	if !rels["stylesheet"] && !rels["modulepreload"] && !rels["preload"] {
		return
	}
	integrity, has := a["integrity"]
	d := Declaration{Element: "link", Attr: "href", Ref: href, Integrity: integrity, HasIntegrity: has, Type: a["type"], Rel: a["rel"], CrossOrigin: a["crossorigin"],
		HasCrossOrigin: hasAttr(a, "crossorigin"), As: a["as"]}
	var kinds []Kind
	if rels["stylesheet"] {
		kinds = append(kinds, KindStylesheet)
	}
	if rels["modulepreload"] {
		kinds = append(kinds, KindModulePreload)
	}
	if rels["preload"] && preloadAs[strings.ToLower(strings.Trim(a["as"], asciiSpace))] {
		kinds = append(kinds, KindPreload)
	}
	for _, k := range kinds {
		ref := Reference{Kind: k, Element: "link", Attr: "href", Ref: href, Integrity: integrity, HasIntegrity: has, CrossOrigin: a["crossorigin"]}
		if k == KindModulePreload && !has {
			w.applyPin(&ref)
			d.Integrity, d.PinnedBy = ref.Integrity, ref.PinnedBy
		}
		w.add(ref)
		d.URL = w.refs[len(w.refs)-1].URL
	}
	w.declare(d)
	if rels["modulepreload"] && has && integrity != "" && d.URL != "" {
		// The module map now holds this URL fetched with this integrity.
		w.setPin(d.URL, integrity, "modulepreload")
	}
}

func (w *walker) setPin(u, integrity, by string) {
	if w.pins == nil {
		w.pins = map[string]pin{}
	}
	if _, done := w.pins[u]; !done { // the first fetch (or first map entry) wins
		w.pins[u] = pin{integrity, by}
	}
}

func (w *walker) applyPin(r *Reference) {
	u := w.resolve(r.Ref)
	if u == nil {
		return
	}
	if p, ok := w.pins[u.String()]; ok {
		r.Integrity, r.PinnedBy = p.integrity, p.by
	}
}

// meta records refresh targets and CSP declared in the page.
func (w *walker) meta(a map[string]string) {
	equiv := strings.ToLower(strings.Trim(a["http-equiv"], asciiSpace))
	content, ok := a["content"]
	if !ok {
		return
	}
	switch equiv {
	case "refresh":
		if target, ok := refreshURL(content); ok {
			w.add(Reference{Kind: KindRefresh, Element: "meta", Attr: "content", Ref: target})
		}
	case "content-security-policy":
		w.add(Reference{Kind: KindCSP, Element: "meta", Attr: "content", Ref: content})
	}
}

// refreshURL extracts the URL of a refresh declaration ("5; url=/next"),
// following the shared declarative refresh steps loosely but conservatively:
// anything after the delay that is not empty is taken as a URL.
func refreshURL(content string) (string, bool) {
	s := strings.TrimLeft(content, asciiSpace)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return "", false // no delay: the browser ignores it
	}
	s = strings.TrimLeft(s[i:], asciiSpace)
	s = strings.TrimLeft(s, ";,")
	s = strings.TrimLeft(s, asciiSpace)
	if len(s) >= 3 && strings.EqualFold(s[:3], "url") {
		rest := strings.TrimLeft(s[3:], asciiSpace)
		if strings.HasPrefix(rest, "=") {
			s = strings.TrimLeft(rest[1:], asciiSpace)
		}
	}
	if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
		q := s[0]
		s = s[1:]
		if j := strings.IndexByte(s, q); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.Trim(s, asciiSpace)
	return s, s != ""
}

// text is the concatenated text content of an element (scripts and styles
// hold one raw text node).
func text(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxCode {
		return s
	}
	cut := maxCode
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

const asciiSpace = "\t\n\f\r "

// resolve parses ref (trimmed of ASCII whitespace, as browsers do) against
// the current base. It returns nil when ref is empty or unparsable, or when
// the result is not absolute.
func (w *walker) resolve(ref string) *url.URL {
	ref = strings.Trim(ref, asciiSpace)
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if w.base != nil {
		u = w.base.ResolveReference(u)
	}
	if !u.IsAbs() {
		return nil
	}
	return u
}

// importMap records an inline import map: every address in "imports" and
// "scopes" is a reference, and the entries of "integrity" are declarations
// and pins, in the order they are first written (a repeated key keeps its
// first position and its last value, like JSON.parse). Integrity keys that
// are not URL-like (absolute, or starting with "/", "./" or "../") do not
// resolve, as in the HTML import map rules; they are still reported, with an
// empty URL. Entries whose value is not a string are ignored, and so is a
// map that is not a valid JSON object, as a browser would ignore it.
func (w *walker) importMap(body []byte) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return
	}
	var imports map[string]json.RawMessage
	if raw, ok := top["imports"]; ok && json.Unmarshal(raw, &imports) == nil {
		w.importAddresses(imports)
	}
	var scopes map[string]map[string]json.RawMessage
	if raw, ok := top["scopes"]; ok && json.Unmarshal(raw, &scopes) == nil {
		for _, m := range scopes {
			w.importAddresses(m)
		}
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
	var order []string
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
				w.decls[i].Integrity = integrity
			} else {
				w.decls[i].Integrity = ""
			}
			continue
		}
		if !isString {
			continue
		}
		d := Declaration{Element: "importmap", Ref: ks, Integrity: integrity, HasIntegrity: true}
		if urlLike(ks) {
			if u := w.resolve(ks); u != nil {
				d.URL = u.String()
			}
		} else {
			d.URL = "-" // keep declare from resolving a bare key
		}
		index[ks] = len(w.decls)
		order = append(order, ks)
		w.declare(d)
		if d.URL == "-" {
			w.decls[len(w.decls)-1].URL = ""
		}
		if w.err != nil {
			return
		}
	}
	for _, k := range order {
		if d := w.decls[index[k]]; d.URL != "" && d.Integrity != "" {
			w.setPin(d.URL, d.Integrity, "importmap")
		}
	}
}

// importAddresses records the addresses of an import map's specifier map,
// in a stable order.
func (w *walker) importAddresses(m map[string]json.RawMessage) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var addr string
		if json.Unmarshal(m[k], &addr) != nil || addr == "" {
			continue // null or not a string: the specifier is blocked, nothing loads
		}
		w.add(Reference{Kind: KindImportMap, Element: "script", Attr: "importmap", Ref: addr})
		if w.err != nil {
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
