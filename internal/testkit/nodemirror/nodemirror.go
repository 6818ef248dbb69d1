// Package nodemirror serves a fake Node.js distribution mirror on loopback
// with the official layout (index.json, vX.Y.Z/SHASUMS256.txt,
// vX.Y.Z/node-vX.Y.Z-PLATFORM.tar.gz). Each "release" is a tiny tarball
// whose bin/node is a shell script printing its version, with a corepack
// and an npm good enough for the toolchain's checks.
package nodemirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Release is one fake release.
type Release struct {
	Version string // "v20.11.1"
	LTS     string // "Iron", or "" for none
}

// Mirror is a running fake mirror.
type Mirror struct {
	URL      string
	Platform string
	mu       sync.Mutex
	tarballs map[string][]byte // by file name
	sums     map[string]string // by version: SHASUMS256.txt content
	Requests []string          // paths requested, in order
	// Tamper, when set, flips a byte of every tarball served (the SHASUMS
	// stay those of the original).
	Tamper bool
}

// Tarball builds the fake release tarball for version on platform.
func Tarball(version, platform string, extra map[string]string) []byte {
	base := "node-" + version + "-" + platform
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	dir := func(name string) {
		_ = tw.WriteHeader(&tar.Header{Name: base + "/" + name + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	file := func(name, body string, mode int64) {
		_ = tw.WriteHeader(&tar.Header{Name: base + "/" + name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	dir("")
	dir("bin")
	file("bin/node", "#!/bin/sh\necho "+version+"\n", 0o755)
	dir("lib/node_modules/corepack/dist")
	file("lib/node_modules/corepack/dist/pnpm.js", "#!/bin/sh\necho corepack-pnpm \"$@\"\n", 0o755)
	dir("lib/node_modules/npm")
	file("lib/node_modules/npm/package.json", `{"name":"npm","version":"10.2.4"}`, 0o644)
	_ = tw.WriteHeader(&tar.Header{Name: base + "/bin/corepack", Typeflag: tar.TypeSymlink, Linkname: "../lib/node_modules/corepack/dist/pnpm.js"})
	for name, body := range extra {
		file(name, body, 0o644)
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// Start serves releases for platform until the test ends.
func Start(t testing.TB, platform string, releases ...Release) *Mirror {
	t.Helper()
	m := &Mirror{Platform: platform, tarballs: map[string][]byte{}, sums: map[string]string{}}
	var index []map[string]any
	for _, r := range releases {
		name := "node-" + r.Version + "-" + platform + ".tar.gz"
		tb := Tarball(r.Version, platform, nil)
		sum := sha256.Sum256(tb)
		m.tarballs[name] = tb
		m.sums[r.Version] = fmt.Sprintf("%s  %s\n%s  node-%s.tar.gz\n", hex.EncodeToString(sum[:]), name,
			strings.Repeat("0", 64), r.Version)
		var lts any = false
		if r.LTS != "" {
			lts = r.LTS
		}
		index = append(index, map[string]any{"version": r.Version, "files": []string{platform, "src"}, "lts": lts})
	}
	indexJSON, _ := json.Marshal(index)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.Requests = append(m.Requests, r.URL.Path)
		tamper := m.Tamper
		m.mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "credentials sent to the mirror", http.StatusBadRequest)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "index.json" {
			_, _ = w.Write(indexJSON)
			return
		}
		version, file, ok := strings.Cut(p, "/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if file == "SHASUMS256.txt" {
			if s, ok := m.sums[version]; ok {
				_, _ = w.Write([]byte(s))
				return
			}
		}
		if tb, ok := m.tarballs[file]; ok {
			if tamper {
				tb = append([]byte(nil), tb...)
				tb[len(tb)/2] ^= 1
			}
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(tb)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

// Count returns how many requests asked for a path ending in suffix.
func (m *Mirror) Count(suffix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.Requests {
		if strings.HasSuffix(p, suffix) {
			n++
		}
	}
	return n
}
