package report

import (
	"fmt"
	"strings"
)

// Served is what one client profile got for a URL (the browser profile,
// the tool's own, the cache-bust variant); package fetch defines them.
type Served struct {
	Profile string `json:"profile"`
	URL     string `json:"url"` // as requested (the cache-bust variant carries its parameter)
	Status  int    `json:"status,omitempty"`
	SHA256  string `json:"sha256,omitempty"` // of the decoded bytes; empty when not fetched
	Size    int64  `json:"size,omitempty"`
	// ContentEncoding and EncodedSize say how the body was served.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	EncodedSize     int64  `json:"encodedSize,omitempty"`
	// Reason is why it could not be fetched; empty when it was.
	Reason string `json:"reason,omitempty"`
}

// servedEncoding renders how a body was served (", served gzip-encoded,
// 1234 bytes on the wire"), or "" when it was served without a content
// coding. quote escapes the network-supplied coding names for the output.
func servedEncoding(h *HTTPInfo, quote func(string) string) string {
	if h == nil || h.ContentEncoding == "" {
		return ""
	}
	return fmt.Sprintf(", served %s-encoded, %s on the wire", quote(h.ContentEncoding), plural(int(h.EncodedSize), "byte", "bytes"))
}

// servedProfiles renders which profile got which digest on one line:
// "browser, tool, cache-bust: same bytes" when they agree, each profile's
// digest otherwise; "" when there is nothing to say. quote escapes.
func servedProfiles(ss []Served, quote func(string) string) string {
	if len(ss) == 0 {
		return ""
	}
	same := true
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = quote(s.Profile)
		if s.Reason != "" || s.SHA256 != ss[0].SHA256 {
			same = false
		}
	}
	if same {
		return strings.Join(names, ", ") + ": same bytes"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		if s.Reason != "" {
			parts[i] = quote(s.Profile) + " could not fetch (" + quote(s.Reason) + ")"
			continue
		}
		parts[i] = quote(s.Profile) + " sha256 " + quote(shorten(s.SHA256, shortHex)) + " (" + plural(int(s.Size), "byte", "bytes") + ")"
	}
	return "different bytes: " + strings.Join(parts, " · ")
}
