//go:build cgo && linux && !purego

package digest

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The few libcrypto entry points used, called through pointers found with
// dlsym: the binary does not link against OpenSSL and needs no headers, and
// runs unchanged where no libcrypto is installed. These are the plain
// SHA384_Init/Update/Final and SHA512_ functions (deprecated in OpenSSL 3 but exported by
// every build with the deprecated API, Debian's included): they run the
// same assembly as EVP, without loading openssl.cnf or providers, and their
// state is a plain struct the caller owns, so it lives in Go memory.
typedef int (*kv_init_fn)(void *);
typedef int (*kv_update_fn)(void *, const void *, size_t);
typedef int (*kv_final_fn)(unsigned char *, void *);
typedef const char *(*kv_version_fn)(int);

static struct {
	kv_init_fn init[2];
	kv_update_fn update[2];
	kv_final_fn final[2];
	kv_version_fn version;
} kv;

// kv_load opens the library and resolves every symbol; 0 on success.
static int kv_load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return 1;
	kv.init[0] = (kv_init_fn)dlsym(h, "SHA384_Init");
	kv.update[0] = (kv_update_fn)dlsym(h, "SHA384_Update");
	kv.final[0] = (kv_final_fn)dlsym(h, "SHA384_Final");
	kv.init[1] = (kv_init_fn)dlsym(h, "SHA512_Init");
	kv.update[1] = (kv_update_fn)dlsym(h, "SHA512_Update");
	kv.final[1] = (kv_final_fn)dlsym(h, "SHA512_Final");
	kv.version = (kv_version_fn)dlsym(h, "OpenSSL_version");
	for (int i = 0; i < 2; i++) {
		if (!kv.init[i] || !kv.update[i] || !kv.final[i]) {
			dlclose(h);
			return 2;
		}
	}
	if (!kv.version) {
		dlclose(h);
		return 2;
	}
	return 0;
}

static const char *kv_version(void) { return kv.version(0); }
static int kv_init(int alg, void *c) { return kv.init[alg](c); }
static int kv_update(int alg, void *c, const void *p, size_t n) { return kv.update[alg](c, p, n); }
static int kv_final(int alg, unsigned char *out, void *c) { return kv.final[alg](out, c); }
*/
import "C"

import (
	"errors"
	"hash"
	"unsafe"
)

// libcryptoNames are the sonames tried, newest first. Both export the
// OpenSSL 1.1 names used above.
var libcryptoNames = []string{"libcrypto.so.3", "libcrypto.so.1.1"}

// loadLibcrypto opens the system's libcrypto and returns a constructor for
// its SHA-384 and SHA-512 and a description of it.
func loadLibcrypto() (newHash func(alg int) hash.Hash, desc string, err error) {
	for _, name := range libcryptoNames {
		cname := C.CString(name)
		rc := C.kv_load(cname)
		C.free(unsafe.Pointer(cname))
		if rc == 0 {
			return newLibSHA, C.GoString(C.kv_version()) + " (" + name + ")", nil
		}
	}
	return nil, "", errors.New("no libcrypto.so.3 or libcrypto.so.1.1 found")
}

// shaState holds OpenSSL's SHA512_CTX (216 bytes in OpenSSL 1.1 and 3:
// eight state words, a 128-bit length, a 128-byte block, two counters),
// with room to spare and 8-byte alignment. It holds no pointers, so a copy
// is a clone (Sum finishes a copy) and Go memory may be handed to C.
type shaState [64]uint64

// libSHA is a hash.Hash computed by libcrypto's SHA384_* or SHA512_*.
type libSHA struct {
	st   shaState
	alg  int
	size int
}

func newLibSHA(alg int) hash.Hash {
	h := &libSHA{alg: alg, size: 48}
	if alg != algSHA384 {
		h.size = 64
	}
	h.Reset()
	return h
}

func (h *libSHA) Write(p []byte) (int, error) {
	if len(p) > 0 {
		if C.kv_update(C.int(h.alg), unsafe.Pointer(&h.st[0]), unsafe.Pointer(&p[0]), C.size_t(len(p))) != 1 {
			panic("digest: libcrypto SHA update failed")
		}
	}
	return len(p), nil
}

func (h *libSHA) Sum(b []byte) []byte {
	st := h.st // finish a copy: the hash goes on
	var out [64]byte
	if C.kv_final(C.int(h.alg), (*C.uchar)(unsafe.Pointer(&out[0])), unsafe.Pointer(&st[0])) != 1 {
		panic("digest: libcrypto SHA final failed")
	}
	return append(b, out[:h.size]...)
}

func (h *libSHA) Reset() {
	h.st = shaState{}
	if C.kv_init(C.int(h.alg), unsafe.Pointer(&h.st[0])) != 1 {
		panic("digest: libcrypto SHA init failed")
	}
}

func (h *libSHA) Size() int      { return h.size }
func (h *libSHA) BlockSize() int { return 128 }
