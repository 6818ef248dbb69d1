package fetch

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Client profiles. A server can serve good bytes to the verifier and other
// bytes to browsers (by User-Agent, Accept, Accept-Encoding, Sec-Fetch-*),
// or good bytes from a cache and other bytes from the origin. Every target
// is therefore fetched several ways, and copies that differ fail
// ("inconsistent-serving") even when one of them matches the release.
//
// What profiles cannot catch: a server that targets by network (the
// runners' published IP ranges, a cloud provider's ranges, a country)
// serves every profile here the same bytes. Anyone can re-run the CLI from
// another network to check that.
const (
	// ProfileBrowser is a current desktop Chrome: its User-Agent, client
	// hints, Accept per destination, Accept-Encoding, Accept-Language and
	// Sec-Fetch-* headers. It is the primary copy: what is compared with
	// the release.
	ProfileBrowser = "browser"
	// ProfileTool is the verifier itself: User-Agent kms-verify-action,
	// Accept-Encoding identity.
	ProfileTool = "tool"
	// ProfileCacheBust is the browser profile with a query parameter no
	// cache has seen, so the copy comes from the origin (or from a cache
	// that ignores query strings).
	ProfileCacheBust = "cache-bust"

	// DefaultCacheBustParam is the query parameter the cache-bust profile
	// adds when none is configured.
	DefaultCacheBustParam = "kms-verify-nocache"

	// chromeMajor is the Chrome major version the browser profile claims.
	// Keep it near the stable channel: a server may treat old browsers apart.
	chromeMajor = "142"
	// browserUA is Chrome's reduced User-Agent string on Windows.
	browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeMajor + ".0.0.0 Safari/537.36"
	// browserAcceptEncoding is what Chrome sends over https.
	browserAcceptEncoding = "gzip, deflate, br, zstd"
)

// Dest is a request destination (the Fetch standard's request.destination);
// it sets the browser profile's Accept and Sec-Fetch-Dest/Mode.
type Dest string

// Destinations the browser profile knows; anything else is DestEmpty.
const (
	DestDocument Dest = "document"
	DestScript   Dest = "script"
	DestStyle    Dest = "style"
	DestImage    Dest = "image"
	DestFont     Dest = "font"
	DestWorker   Dest = "worker"
	DestEmpty    Dest = "empty"
)

// DestFor guesses the destination of a URL or file name from its extension
// (".js" a script, ".css" a style, ".html" a document...); DestEmpty when
// unknown (a fetch() or a wasm module). A worker cannot be told from its
// name; callers that know better pass DestWorker.
func DestFor(name string) Dest {
	if u, err := url.Parse(name); err == nil && u.Path != "" {
		name = u.Path
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm", ".xhtml":
		return DestDocument
	case "":
		if name == "" || strings.HasSuffix(name, "/") {
			return DestDocument
		}
		return DestEmpty
	case ".js", ".mjs", ".cjs":
		return DestScript
	case ".css":
		return DestStyle
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp":
		return DestImage
	case ".woff", ".woff2", ".ttf", ".otf":
		return DestFont
	}
	return DestEmpty
}

// accept is Chrome's Accept header per destination.
func (d Dest) accept() string {
	switch d {
	case DestDocument:
		return "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	case DestStyle:
		return "text/css,*/*;q=0.1"
	case DestImage:
		return "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
	}
	return "*/*"
}

// mode is the Sec-Fetch-Mode a page's load of d would carry (module
// scripts and fonts are CORS requests; SRI on a cross-origin script needs
// CORS too).
func (d Dest) mode() string {
	switch d {
	case DestDocument:
		return "navigate"
	case DestWorker:
		return "same-origin"
	case DestStyle, DestImage:
		return "no-cors"
	}
	return "cors"
}

// profileHeader returns the request headers of profile for target u loaded
// with destination d by the page referrer (nil = typed into the address
// bar, or fetched directly).
func profileHeader(profile string, u *url.URL, d Dest, referrer *url.URL) http.Header {
	h := http.Header{}
	if profile == ProfileTool {
		h.Set("User-Agent", userAgent)
		h.Set("Accept", "*/*")
		h.Set("Accept-Encoding", "identity")
		return h
	}
	if d == "" {
		d = DestEmpty
	}
	h.Set("User-Agent", browserUA)
	h.Set("Sec-Ch-Ua", `"Chromium";v="`+chromeMajor+`", "Google Chrome";v="`+chromeMajor+`", "Not_A Brand";v="99"`)
	h.Set("Sec-Ch-Ua-Mobile", "?0")
	h.Set("Sec-Ch-Ua-Platform", `"Windows"`)
	h.Set("Accept", d.accept())
	h.Set("Accept-Encoding", browserAcceptEncoding)
	h.Set("Accept-Language", "en-US,en;q=0.9")
	h.Set("Sec-Fetch-Dest", string(d))
	h.Set("Sec-Fetch-Mode", d.mode())
	h.Set("Sec-Fetch-Site", fetchSite(u, referrer))
	if d == DestDocument {
		h.Set("Sec-Fetch-User", "?1")
		h.Set("Upgrade-Insecure-Requests", "1")
	}
	if r := referer(u, referrer); r != "" {
		h.Set("Referer", r)
	}
	return h
}

// fetchSite is Sec-Fetch-Site: none without an initiator, same-origin,
// same-site (approximated by the last two host labels; no public suffix
// list), or cross-site.
func fetchSite(u, referrer *url.URL) string {
	switch {
	case referrer == nil:
		return "none"
	case sameOrigin(u, referrer):
		return "same-origin"
	case u.Scheme == referrer.Scheme && siteOf(u.Hostname()) == siteOf(referrer.Hostname()):
		return "same-site"
	}
	return "cross-site"
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}

func siteOf(host string) string {
	labels := strings.Split(strings.ToLower(host), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

// referer follows the default policy, strict-origin-when-cross-origin: the
// full URL (without fragment) to the same origin, the origin otherwise.
func referer(u, referrer *url.URL) string {
	if referrer == nil {
		return ""
	}
	if sameOrigin(u, referrer) {
		r := *referrer
		r.Fragment, r.RawFragment, r.User = "", "", nil
		return r.String()
	}
	return referrer.Scheme + "://" + referrer.Host + "/"
}

// cacheBustURL adds param=value to u's query, keeping the query as written.
func cacheBustURL(u *url.URL, param, value string) string {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	kv := url.QueryEscape(param) + "=" + url.QueryEscape(value)
	if c.RawQuery == "" {
		c.RawQuery = kv
	} else {
		c.RawQuery += "&" + kv
	}
	return c.String()
}
