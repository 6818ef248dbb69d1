package fetch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Content codings, as a browser decodes them (RFC 9110 section 8.4; the
// Fetch standard's "handle content codings"). The body is hashed after
// decoding, because Subresource Integrity is checked on the decoded bytes.
const (
	// MaxCodings bounds how many stacked codings one response may declare.
	MaxCodings = 4
	// MaxZstdWindow is the largest zstd window accepted; Chrome and Firefox
	// refuse frames whose window is larger than 8 MiB (RFC 8878 section 3.1.1.1.2
	// recommends supporting at least 8 MiB), so a larger one is not served to
	// browsers either, and accepting it would let a server make us allocate.
	MaxZstdWindow = 8 << 20
)

// errTrailing marks data after the end of a compressed stream. Browsers
// differ on it (Chrome ignores bytes after a gzip member, others fail or
// decode a second member), so what a browser runs cannot be known.
var errTrailing = errors.New("data after the end of the compressed stream")

// codings parses the Content-Encoding header fields into the codings in the
// order they were applied, lower-cased, without "identity". An unknown
// coding, an empty list element or more than MaxCodings codings is an error
// naming the (escaped by the caller) value.
func codings(h http.Header) ([]string, error) {
	var out []string
	for _, field := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(field, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "identity":
				continue
			case "x-gzip": // RFC 9110 section 8.4.1.3: equivalent to gzip
				c = "gzip"
			case "gzip", "deflate", "br", "zstd":
			case "":
				if strings.TrimSpace(field) == "" {
					continue // an empty header field declares nothing
				}
				return nil, fmt.Errorf("Content-Encoding %q has an empty element", truncate(field, 64))
			default:
				return nil, fmt.Errorf("Content-Encoding %q is not one browsers decode (gzip, deflate, br, zstd, identity)", truncate(c, 64))
			}
			if len(out) == MaxCodings {
				return nil, fmt.Errorf("more than %d stacked content codings", MaxCodings)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// decoder undoes the codings (applied in the given order) over r. The
// returned close function releases decoder resources (zstd's goroutines)
// and must be called once reading is done.
func decoder(r io.Reader, cs []string) (io.Reader, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for i := len(cs) - 1; i >= 0; i-- {
		var err error
		var done func()
		r, done, err = decodeOne(r, cs[i])
		if done != nil {
			closers = append(closers, done)
		}
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("%s: %w", cs[i], err)
		}
	}
	return r, closeAll, nil
}

// decodeOne wraps r in one decoder that ends with io.EOF only at the end of
// a well-formed stream followed by nothing.
func decodeOne(r io.Reader, coding string) (io.Reader, func(), error) {
	// The stdlib-compatible decoders read through an io.ByteReader without
	// reading ahead, so whatever remains in br after the stream ended is
	// trailing data.
	br := bufio.NewReaderSize(r, 32<<10)
	switch coding {
	case "gzip":
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		// One member only: a second member is read by some clients and
		// ignored by others (Chrome), so it is trailing data here.
		z.Multistream(false)
		return &strictEnd{dec: z, rest: br, coding: coding}, func() { z.Close() }, nil
	case "deflate":
		// RFC 9110 says zlib (RFC 1950); browsers also accept raw deflate
		// (RFC 1951) and tell them apart by the zlib header.
		hdr, err := br.Peek(2)
		if err != nil && len(hdr) < 2 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if isZlibHeader(hdr[0], hdr[1]) {
			z, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, err
			}
			return &strictEnd{dec: z, rest: br, coding: coding}, func() { z.Close() }, nil
		}
		f := flate.NewReader(br)
		return &strictEnd{dec: f, rest: br, coding: coding}, func() { f.Close() }, nil
	case "br":
		// The brotli reader reads ahead, but reports input after the end
		// of the stream itself ("excessive input"). Large-window streams
		// (not decoded by browsers) are refused by the reader.
		return brotli.NewReader(r), nil, nil
	case "zstd":
		// Concatenated frames are one stream (RFC 8878 section 3.1); bytes
		// after the last frame that are not a frame are an error.
		z, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindow),
			zstd.WithDecoderMaxMemory(MaxZstdWindow*2))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	}
	return nil, nil, fmt.Errorf("unsupported coding %q", coding)
}

// isZlibHeader reports whether cmf, flg start a zlib stream (RFC 1950
// section 2.2): deflate method, window at most 32 KiB, check bits valid.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// strictEnd passes dec through and, when it ends, checks that rest holds no
// more bytes.
type strictEnd struct {
	dec    io.Reader
	rest   *bufio.Reader
	coding string
}

func (s *strictEnd) Read(p []byte) (int, error) {
	n, err := s.dec.Read(p)
	if err == io.EOF {
		if _, perr := s.rest.ReadByte(); perr == nil {
			return n, errTrailing
		} else if perr != io.EOF {
			return n, perr
		}
	}
	return n, err
}

// wire counts the bytes read from the network and remembers the first
// error it returned, so that a decoder error caused by the network (a cut
// connection) is told apart from a body that is not what its
// Content-Encoding says.
type wire struct {
	r   io.Reader
	n   int64
	err error // first error other than io.EOF
}

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += int64(n)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}
