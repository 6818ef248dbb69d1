package fetch

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

func brotlied(s string) string {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

func zlibbed(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

func deflated(s string) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

func zstded(s string, opts ...zstd.EOption) string {
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b, opts...)
	if err != nil {
		panic(err)
	}
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

// TestContentEncoding: the body is decoded as a browser decodes it and the
// decoded bytes are hashed, whatever the client asked for; what was served
// is recorded.
func TestContentEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, encoding, body, wantEncoding string
	}{
		{name: "identity", encoding: "", body: body, wantEncoding: ""},
		{name: "identity named", encoding: "identity", body: body, wantEncoding: ""},
		{name: "gzip", encoding: "gzip", body: gzipped(body), wantEncoding: "gzip"},
		{name: "x-gzip", encoding: "x-gzip", body: gzipped(body), wantEncoding: "gzip"},
		{name: "gzip upper case", encoding: " GZip ", body: gzipped(body), wantEncoding: "gzip"},
		{name: "br", encoding: "br", body: brotlied(body), wantEncoding: "br"},
		{name: "deflate zlib", encoding: "deflate", body: zlibbed(body), wantEncoding: "deflate"},
		{name: "deflate raw", encoding: "deflate", body: deflated(body), wantEncoding: "deflate"},
		{name: "zstd", encoding: "zstd", body: zstded(body), wantEncoding: "zstd"},
		{name: "stacked gzip then br", encoding: "gzip, br", body: brotlied(gzipped(body)), wantEncoding: "gzip, br"},
		{name: "stacked with identity", encoding: "identity, gzip", body: gzipped(body), wantEncoding: "gzip"},
		{name: "empty body gzip", encoding: "gzip", body: gzipped(""), wantEncoding: "gzip"},
	}
	for _, tc := range tests {
		for _, asks := range []string{"identity", "gzip, deflate, br, zstd"} {
			t.Run(tc.name+"/client asks "+asks, func(t *testing.T) {
				t.Parallel()
				srv, _ := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
					if tc.encoding != "" {
						w.Header().Set("Content-Encoding", tc.encoding)
					}
					w.Header().Set("Content-Length", strconv.Itoa(len(tc.body)))
					io.WriteString(w, tc.body)
				})
				path := filepath.Join(t.TempDir(), "a.js")
				res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL+"/a.js", path, Options{Retries: -1, Header: http.Header{"Accept-Encoding": {asks}}})
				if err != nil {
					t.Fatal(err)
				}
				want := body
				if tc.name == "empty body gzip" {
					want = ""
				}
				if res.Sum != sumOf(t, want) {
					t.Errorf("sum is not over the decoded bytes: size %d", res.Sum.Size)
				}
				if res.Encoding != tc.wantEncoding || res.EncodedSize != int64(len(tc.body)) {
					t.Errorf("Encoding = %q, EncodedSize = %d; want %q, %d", res.Encoding, res.EncodedSize, tc.wantEncoding, len(tc.body))
				}
				if got, _ := os.ReadFile(path); string(got) != want {
					t.Errorf("saved copy is not the decoded body: %q", got)
				}
			})
		}
	}
}

// TestContentEncodingHostile: a body that is not what its Content-Encoding
// says, an unknown coding, or a bomb is "could not verify" with its own
// reason, never a sum.
func TestContentEncodingHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, encoding, body string
		maxSize              int64
		reason               string
	}{
		{name: "gzip claimed, plain body", encoding: "gzip", body: body, reason: "bad-encoding"},
		{name: "br claimed, plain body", encoding: "br", body: body, reason: "bad-encoding"},
		{name: "br claimed, gzip body", encoding: "br", body: gzipped(body), reason: "bad-encoding"},
		{name: "deflate claimed, plain body", encoding: "deflate", body: body, reason: "bad-encoding"},
		{name: "zstd claimed, plain body", encoding: "zstd", body: body, reason: "bad-encoding"},
		{name: "gzip claimed, empty body", encoding: "gzip", body: "", reason: "bad-encoding"},
		{name: "truncated gzip stream", encoding: "gzip", body: gzipped(body)[:20], reason: "bad-encoding"},
		{name: "gzip then garbage", encoding: "gzip", body: gzipped(body) + "<script>evil()</script>", reason: "bad-encoding"},
		{name: "two gzip members", encoding: "gzip", body: gzipped(body) + gzipped("evil()"), reason: "bad-encoding"},
		{name: "br then garbage", encoding: "br", body: brotlied(body) + "evil", reason: "bad-encoding"},
		{name: "zlib then garbage", encoding: "deflate", body: zlibbed(body) + "evil", reason: "bad-encoding"},
		{name: "zstd then garbage", encoding: "zstd", body: zstded(body) + "evil", reason: "bad-encoding"},
		{name: "corrupt gzip checksum", encoding: "gzip", body: flipByte(gzipped(body), -6), reason: "bad-encoding"},
		{name: "stack order wrong", encoding: "br, gzip", body: brotlied(gzipped(body)), reason: "bad-encoding"},
		{name: "zstd window beyond browsers", encoding: "zstd", body: zstdFrame(25, body), reason: "bad-encoding"},
		{name: "unknown coding", encoding: "compress", body: body, reason: "unknown-encoding"},
		{name: "unknown in a stack", encoding: "gzip, x-evil", body: gzipped(body), reason: "unknown-encoding"},
		{name: "empty element", encoding: "gzip,,br", body: body, reason: "unknown-encoding"},
		{name: "too many codings", encoding: "gzip, gzip, gzip, gzip, gzip", body: body, reason: "unknown-encoding"},
		{name: "gzip bomb", encoding: "gzip", body: gzipped(strings.Repeat("\x00", 8<<20)), maxSize: 1 << 20, reason: "too-large"},
		{name: "br bomb", encoding: "br", body: brotlied(strings.Repeat("a", 8<<20)), maxSize: 1 << 20, reason: "too-large"},
		{name: "nested bomb", encoding: "gzip, gzip", body: gzipped(gzipped(strings.Repeat("\x00", 8<<20))), maxSize: 1 << 20, reason: "too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Encoding", tc.encoding)
				w.Header().Set("Content-Length", strconv.Itoa(len(tc.body)))
				io.WriteString(w, tc.body)
			})
			res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL+"/a.js", "", Options{MaxSize: tc.maxSize, Sleep: (&sleeper{}).sleep})
			wantErr(t, err, verdict.ErrInconclusive, tc.reason)
			if count.Load() != 1 {
				t.Errorf("retried a deterministic failure: %d requests", count.Load())
			}
			if res.Sum.Size != 0 {
				t.Error("error result carries a sum")
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// zstdFrame hand-writes one zstd frame (RFC 8878 section 3.1.1) with the
// given window log and content in a single raw block.
func zstdFrame(windowLog int, content string) string {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(windowLog-10) << 3}
	h := 1 | len(content)<<3 // last block, raw
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return string(append(b, content...))
}

func TestZstdWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		log    int
		reason string
	}{{23, ""}, {24, "bad-encoding"}, {30, "bad-encoding"}} {
		t.Run(strconv.Itoa(tc.log), func(t *testing.T) {
			t.Parallel()
			srv, _ := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Encoding", "zstd")
				io.WriteString(w, zstdFrame(tc.log, body))
			})
			res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Retries: -1})
			if tc.reason == "" {
				if err != nil || res.Sum != sumOf(t, body) {
					t.Fatalf("err = %v, res = %+v", err, res)
				}
				return
			}
			wantErr(t, err, verdict.ErrInconclusive, tc.reason)
		})
	}
}

func flipByte(s string, i int) string {
	b := []byte(s)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0xff
	return string(b)
}

// TestContentEncodingCutConnection: a compressed body cut by the network is
// a network error (retried), not a bad encoding.
func TestContentEncodingCutConnection(t *testing.T) {
	t.Parallel()
	gz := gzipped(strings.Repeat(body, 100))
	srv, count := rawServer(t, func(w io.Writer, n int) {
		if n == 1 {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(gz), gz[:len(gz)/2])
			return
		}
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(gz), gz)
	})
	res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Sleep: (&sleeper{}).sleep})
	if err != nil {
		t.Fatal(err)
	}
	if count.Load() != 2 || res.Sum != sumOf(t, strings.Repeat(body, 100)) {
		t.Errorf("requests = %d, res = %+v", count.Load(), res)
	}
	srv2, _ := rawServer(t, func(w io.Writer, _ int) {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(gz), gz[:len(gz)/2])
	})
	_, err = ToFile(t.Context(), NewClient(5*time.Second), srv2.URL, "", Options{Sleep: (&sleeper{}).sleep})
	wantErr(t, err, verdict.ErrInconclusive, "network-error")
}

// FuzzDecode: any Content-Encoding value and any body either decode or
// fail with an error; never a panic, never more than the bound.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct{ coding, body string }{
		{"gzip", gzipped(body)}, {"br", brotlied(body)}, {"deflate", zlibbed(body)}, {"deflate", deflated(body)},
		{"zstd", zstded(body)}, {"gzip, br", brotlied(gzipped(body))}, {"zstd", zstdFrame(30, body)},
		{"gzip", body}, {"x-gzip,identity", gzipped("")}, {"compress", body}, {"br", ""},
	} {
		f.Add(seed.coding, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, coding string, data []byte) {
		const limit = 1 << 20
		h := http.Header{}
		h.Set("Content-Encoding", coding)
		cs, err := codings(h)
		if err != nil {
			return
		}
		if len(cs) > MaxCodings {
			t.Fatalf("%d codings accepted", len(cs))
		}
		r, done, err := decoder(bytes.NewReader(data), cs)
		defer done()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(r, limit+1))
		if n > limit+1 {
			t.Fatalf("read %d bytes", n)
		}
	})
}
