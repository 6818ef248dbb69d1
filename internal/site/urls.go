package site

import (
	"net/url"
	"path"
	"strings"
)

// FileURL is where the file rel of a site served at base must be found:
// base (whose path ends in "/") joined with rel, each segment escaped.
func FileURL(base *url.URL, rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := *base
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	u.Path = base.Path + rel
	u.RawPath = base.EscapedPath() + strings.Join(segs, "/")
	return u.String()
}

// IsIndex reports whether rel is an index.html, which is also served at its
// folder's URL.
func IsIndex(rel string) bool { return path.Base(rel) == "index.html" }

// DirURL is the folder URL an index.html is also served at ("" when rel is
// not an index.html).
func DirURL(base *url.URL, rel string) string {
	if !IsIndex(rel) {
		return ""
	}
	dir := strings.TrimSuffix(rel, "index.html")
	if dir == "" {
		u := *base
		u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
		return u.String()
	}
	return FileURL(base, strings.TrimSuffix(dir, "/")) + "/"
}

// Key is the comparable form of an absolute http(s) URL: lower-case scheme
// and host, no default port, the decoded path ("/" when empty) and the raw
// query; the fragment and userinfo are dropped. It is "" for anything else
// (data:, javascript:, relative or unparsable references).
func Key(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return keyOf(u)
}

func keyOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	k := scheme + "://" + host + p
	if u.RawQuery != "" || u.ForceQuery {
		k += "?" + u.RawQuery
	}
	return k
}

// Origin is the scheme://host[:port] of an absolute URL, normalized as Key
// does; "" when raw is not an http(s) URL.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	c := url.URL{Scheme: u.Scheme, Host: u.Host}
	return strings.TrimSuffix(keyOf(&c), "/")
}
