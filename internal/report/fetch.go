package report

import "fmt"

// servedEncoding renders how a body was served (", served gzip, 1234
// bytes on the wire"), or "" when it was served without a content coding.
// quote escapes the network-supplied coding names for the output format.
func servedEncoding(h *HTTPInfo, quote func(string) string) string {
	if h == nil || h.ContentEncoding == "" {
		return ""
	}
	return fmt.Sprintf(", served %s-encoded, %s on the wire", quote(h.ContentEncoding), plural(int(h.EncodedSize), "byte", "bytes"))
}
