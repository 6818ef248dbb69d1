package ghapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func framed(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := snappy.NewBufferedWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// blockHeader is a snappy block that declares n decoded bytes and carries
// nothing after the header: a decoder that trusted it would allocate n bytes.
func blockHeader(n uint64) []byte {
	return binary.AppendUvarint(nil, n)
}

func TestSniffEncoding(t *testing.T) {
	t.Parallel()
	block := snappy.Encode(nil, []byte(bundleA))
	fr := framed(t, []byte(bundleA))
	tests := []struct {
		name, ctype string
		body        []byte
		want        string
		bad         bool
	}{
		{"GitHub: x-snappy block", "application/x-snappy", block, EncodingSnappy, false},
		{"x-snappy with parameters", "application/x-snappy; charset=binary", block, EncodingSnappy, false},
		{"x-snappy labelling a framed stream", "application/x-snappy", fr, EncodingSnappyFramed, false},
		{"framed declared", "application/x-snappy-framed", fr, EncodingSnappyFramed, false},
		{"framed declared, block served", "application/x-snappy-framed", block, "", true},
		{"json declared", "application/json", []byte(bundleA), EncodingJSON, false},
		{"json declared, leading space", "application/json; charset=utf-8", []byte("\n  " + bundleA), EncodingJSON, false},
		{"json declared, block served", "application/json", block, "", true},
		{"octet-stream block", "application/octet-stream", block, EncodingSnappy, false},
		{"octet-stream framed", "application/octet-stream", fr, EncodingSnappyFramed, false},
		{"octet-stream json", "application/octet-stream", []byte(bundleA), EncodingJSON, false},
		{"no type, block", "", block, EncodingSnappy, false},
		{"garbage type, json", "not/a type;;", []byte(bundleA), EncodingJSON, false},
		{"no type, empty", "", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sniffEncoding(tt.ctype, tt.body)
			if tt.bad {
				if err == nil || !errors.Is(err, errEncoding) {
					t.Fatalf("sniffEncoding = %q, %v; want errEncoding", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("sniffEncoding = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDecodeBundle(t *testing.T) {
	t.Parallel()
	const max = 1 << 10
	big := []byte(`{"pad":"` + strings.Repeat("x", max) + `"}`)
	tampered := snappy.Encode(nil, []byte(bundleA))
	tampered[len(tampered)/2] ^= 0xff
	tests := []struct {
		name    string
		enc     string
		body    []byte
		want    string
		wantErr error
	}{
		{"block", EncodingSnappy, snappy.Encode(nil, []byte(bundleA)), bundleA, nil},
		{"framed", EncodingSnappyFramed, framed(t, []byte(bundleA)), bundleA, nil},
		{"json", EncodingJSON, []byte(bundleA), bundleA, nil},
		{"block over the bound", EncodingSnappy, snappy.Encode(nil, big), "", errTooLarge},
		{"framed over the bound", EncodingSnappyFramed, framed(t, big), "", errTooLarge},
		{"json over the bound", EncodingJSON, big, "", errTooLarge},
		{"block declaring 4 GiB", EncodingSnappy, blockHeader(0xfffffff0), "", errTooLarge},
		{"block header corrupt", EncodingSnappy, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "", errEncoding},
		{"block truncated", EncodingSnappy, snappy.Encode(nil, []byte(bundleA))[:10], "", errEncoding},
		{"block decodes to non-JSON", EncodingSnappy, snappy.Encode(nil, []byte("PK\x03\x04 zip")), "", errEncoding},
		{"framed with a bad checksum", EncodingSnappyFramed, func() []byte {
			b := framed(t, []byte(bundleA))
			b[len(framedMagic)+5] ^= 0xff // inside the first chunk's CRC
			return b
		}(), "", errEncoding},
	}
	// A flipped literal byte decodes, to other bytes: the signature check catches that.
	if got, err := decodeBundle(EncodingSnappy, tampered, max); err != nil || len(got) != len(bundleA) || string(got) == bundleA {
		t.Errorf("tampered literal: %q, %v; want other bytes of the same length", got, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeBundle(tt.enc, tt.body, max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("decodeBundle error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("decodeBundle = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestDecompressionBombRefusedBeforeAllocation: a snappy header that claims
// ~4 GiB is refused from the header alone; nothing near that is allocated.
func TestDecompressionBombRefusedBeforeAllocation(t *testing.T) {
	bomb := blockHeader(0xfffffff0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := decodeBundle(EncodingSnappy, bomb, 10<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("error = %v, want errTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("decoding the bomb allocated %d bytes", grew)
	}
}

// blobEnv is an API whose attestations point at a blob host; the blob host
// and the host it redirects to fail the test on any Authorization header
// (env's noAuth wrapper) and count requests.
type blobEnv struct {
	*env
	blobHits atomic.Int32
}

func newBlobEnv(t *testing.T) *blobEnv {
	return &blobEnv{env: newEnv(t)}
}

// serveBlob serves body at path on the blob (asset) host with content type ctype.
func (b *blobEnv) serveBlob(path, ctype string, body []byte) string {
	b.assetMux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		b.blobHits.Add(1)
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		_, _ = w.Write(body)
	})
	return b.assetURL + path + "?sp=r&se=2026-01-01&sig=SECRETSIGNATURE"
}

// listing serves one page of attestations: each entry is either a bundle
// (json.RawMessage) or a bundle_url (string).
func (b *blobEnv) listing(t *testing.T, entries ...any) {
	b.mux.HandleFunc("GET /repos/o/r/attestations/sha256:"+digestHex, func(w http.ResponseWriter, r *http.Request) {
		var list []map[string]any
		for _, e := range entries {
			switch v := e.(type) {
			case json.RawMessage:
				list = append(list, map[string]any{"bundle": v, "repository_id": 1})
			case string:
				list = append(list, map[string]any{"bundle": nil, "bundle_url": v, "repository_id": 1})
			case nil:
				list = append(list, map[string]any{"bundle": nil})
			}
		}
		writeJSON(t, w, map[string]any{"attestations": list})
	})
}

func TestAttestationsBundleURL(t *testing.T) {
	t.Parallel()
	b := newBlobEnv(t)
	block := b.serveBlob("/att/1.json.sn", "application/x-snappy", snappy.Encode(nil, []byte(bundleB)))
	fr := b.serveBlob("/att/2.json.sn", "application/octet-stream", framed(t, []byte(bundleB)))
	plain := b.serveBlob("/att/3.json", "application/json", []byte(bundleB))
	// A redirect to another host (the CDN host of env, which also refuses Authorization).
	b.cdnMux.HandleFunc("GET /moved/4.json.sn", func(w http.ResponseWriter, r *http.Request) {
		b.blobHits.Add(1)
		w.Header().Set("Content-Type", "application/x-snappy")
		_, _ = w.Write(snappy.Encode(nil, []byte(bundleB)))
	})
	b.assetMux.HandleFunc("GET /att/4.json.sn", func(w http.ResponseWriter, r *http.Request) {
		b.blobHits.Add(1)
		http.Redirect(w, r, b.cdnURL+"/moved/4.json.sn?sig=OTHER", http.StatusFound)
	})
	expired := b.assetURL + "/att/expired.json.sn?se=2020-01-01&sig=SECRETSIGNATURE"
	b.assetMux.HandleFunc("GET /att/expired.json.sn", func(w http.ResponseWriter, r *http.Request) {
		b.blobHits.Add(1)
		http.Error(w, "AuthenticationFailed: Signed expiry time has passed", http.StatusForbidden)
	})
	bomb := b.serveBlob("/att/bomb.json.sn", "application/x-snappy", blockHeader(0xfffffff0))
	garbage := b.serveBlob("/att/garbage.json.sn", "application/x-snappy", []byte("\x10\x00not snappy at all"))

	b.listing(t, json.RawMessage(bundleA), block, fr, plain, b.assetURL+"/att/4.json.sn?sig=X", expired, bomb, garbage, nil,
		"http://blob.example.com/att/x.json.sn?sig=S", json.RawMessage(`{"pad":"`+strings.Repeat("x", testMaxBundle)+`"}`))

	got, err := b.client.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	type want struct {
		source, enc, reason string
		bundle              string
	}
	wants := []want{
		{SourceInline, "", "", bundleA},
		{SourceBundleURL, EncodingSnappy, "", bundleB},
		{SourceBundleURL, EncodingSnappyFramed, "", bundleB},
		{SourceBundleURL, EncodingJSON, "", bundleB},
		{SourceBundleURL, EncodingSnappy, "", bundleB},
		{SourceBundleURL, "", ReasonBundleURLUnavailable, ""},
		{SourceBundleURL, EncodingSnappy, ReasonAttestationTooLarge, ""},
		{SourceBundleURL, EncodingSnappy, ReasonBundleInvalid, ""},
		{SourceInline, "", ReasonBundleUnavailable, ""},
		{SourceBundleURL, "", ReasonBundleURLUnavailable, ""},
		{SourceInline, "", ReasonAttestationTooLarge, ""},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d attestations, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		a := got[i]
		if a.Index != i+1 || a.Source != w.source || a.Encoding != w.enc {
			t.Errorf("#%d: index %d source %q encoding %q, want %q %q", i+1, a.Index, a.Source, a.Encoding, w.source, w.enc)
		}
		if w.reason == "" {
			if a.Err != nil || string(a.Bundle) != w.bundle {
				t.Errorf("#%d: bundle %q err %v, want %q", i+1, a.Bundle, a.Err, w.bundle)
			}
			continue
		}
		if a.Bundle != nil || !errors.Is(a.Err, verdict.ErrInconclusive) || verdict.ReasonOf(a.Err) != w.reason {
			t.Errorf("#%d: err %v (reason %q), want inconclusive %q", i+1, a.Err, verdict.ReasonOf(a.Err), w.reason)
		}
	}
	for i, a := range got {
		// The pre-signed query is a credential: never kept, never in a message.
		for _, s := range []string{a.URL, fmt.Sprint(a.Err)} {
			if strings.Contains(s, "SECRETSIGNATURE") || strings.Contains(s, "sig=") {
				t.Errorf("#%d: the pre-signed query leaked: %q", i+1, s)
			}
		}
	}
	if !strings.Contains(got[5].Err.Error(), "HTTP 403") || !strings.Contains(got[5].Err.Error(), "expired") {
		t.Errorf("expired URL message: %q", got[5].Err)
	}
	if got[1].URL != b.assetURL+"/att/1.json.sn" {
		t.Errorf("URL = %q, want the URL without its query", got[1].URL)
	}
	if n := b.blobHits.Load(); n != 8 { // 1, 2, 3, 4 and its redirect target, expired, bomb, garbage
		t.Errorf("blob requests = %d, want 8", n)
	}
}

func TestAttestationsBundleURLFetchBound(t *testing.T) {
	t.Parallel()
	b := newBlobEnv(t)
	u := b.serveBlob("/att/same.json.sn", "application/x-snappy", snappy.Encode(nil, []byte(bundleB)))
	var entries []any
	for i := 0; i < MaxBundleURLFetches+3; i++ {
		entries = append(entries, u)
	}
	b.listing(t, entries...)
	got, err := b.client.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	if len(got) != MaxBundleURLFetches+3 {
		t.Fatalf("got %d attestations, want %d (none dropped)", len(got), MaxBundleURLFetches+3)
	}
	if n := b.blobHits.Load(); n != MaxBundleURLFetches {
		t.Errorf("blob requests = %d, want %d", n, MaxBundleURLFetches)
	}
	for i, a := range got {
		fetched := i < MaxBundleURLFetches
		if fetched != (a.Err == nil) {
			t.Errorf("#%d: err %v, fetched %v", i+1, a.Err, fetched)
		}
		if !fetched && verdict.ReasonOf(a.Err) != ReasonBundleURLUnavailable {
			t.Errorf("#%d: reason %q", i+1, verdict.ReasonOf(a.Err))
		}
	}
}

func TestBundleURLRedirectBound(t *testing.T) {
	t.Parallel()
	b := newBlobEnv(t)
	b.assetMux.HandleFunc("GET /loop", func(w http.ResponseWriter, r *http.Request) {
		b.blobHits.Add(1)
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	b.listing(t, b.assetURL+"/loop?sig=S")
	got, err := b.client.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	if verdict.ReasonOf(got[0].Err) != ReasonBundleURLUnavailable || !strings.Contains(got[0].Err.Error(), "redirects") {
		t.Errorf("err = %v", got[0].Err)
	}
	if n := b.blobHits.Load(); n != MaxBundleURLRedirects+1 {
		t.Errorf("blob requests = %d, want %d", n, MaxBundleURLRedirects+1)
	}
}
