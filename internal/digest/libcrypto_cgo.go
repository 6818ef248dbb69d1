//go:build cgo && linux && !purego

package digest

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The few libcrypto entry points used, called through pointers found with
// dlsym: the binary does not link against OpenSSL and needs no headers, and
// runs unchanged where no libcrypto is installed.
typedef void *(*kv_md_fn)(void);
typedef void *(*kv_ctx_new_fn)(void);
typedef void (*kv_ctx_free_fn)(void *);
typedef int (*kv_init_fn)(void *, const void *, void *);
typedef int (*kv_update_fn)(void *, const void *, size_t);
typedef int (*kv_final_fn)(void *, unsigned char *, unsigned int *);
typedef int (*kv_copy_fn)(void *, const void *);
typedef const char *(*kv_version_fn)(int);

static struct {
	kv_md_fn sha384, sha512;
	kv_ctx_new_fn ctx_new;
	kv_ctx_free_fn ctx_free;
	kv_init_fn init;
	kv_update_fn update;
	kv_final_fn final;
	kv_copy_fn copy;
	kv_version_fn version;
} kv;

// kv_load opens the library and resolves every symbol; 0 on success.
static int kv_load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return 1;
	kv.sha384 = (kv_md_fn)dlsym(h, "EVP_sha384");
	kv.sha512 = (kv_md_fn)dlsym(h, "EVP_sha512");
	kv.ctx_new = (kv_ctx_new_fn)dlsym(h, "EVP_MD_CTX_new");
	kv.ctx_free = (kv_ctx_free_fn)dlsym(h, "EVP_MD_CTX_free");
	kv.init = (kv_init_fn)dlsym(h, "EVP_DigestInit_ex");
	kv.update = (kv_update_fn)dlsym(h, "EVP_DigestUpdate");
	kv.final = (kv_final_fn)dlsym(h, "EVP_DigestFinal_ex");
	kv.copy = (kv_copy_fn)dlsym(h, "EVP_MD_CTX_copy_ex");
	kv.version = (kv_version_fn)dlsym(h, "OpenSSL_version");
	if (!kv.sha384 || !kv.sha512 || !kv.ctx_new || !kv.ctx_free || !kv.init ||
	    !kv.update || !kv.final || !kv.copy || !kv.version) {
		dlclose(h);
		return 2;
	}
	return 0;
}

static const char *kv_version(void) { return kv.version(0); }

// kv_new returns a context initialised for SHA-384 (alg 0) or SHA-512, or NULL.
static void *kv_new(int alg) {
	void *c = kv.ctx_new();
	if (c == NULL) return NULL;
	if (kv.init(c, alg == 0 ? kv.sha384() : kv.sha512(), NULL) != 1) {
		kv.ctx_free(c);
		return NULL;
	}
	return c;
}
static int kv_reset(void *c, int alg) { return kv.init(c, alg == 0 ? kv.sha384() : kv.sha512(), NULL); }
static void kv_free(void *c) { kv.ctx_free(c); }
static int kv_update(void *c, const void *p, size_t n) { return kv.update(c, p, n); }

// kv_sum writes the digest of what c has consumed so far into out, leaving c
// as it was (it finishes a copy).
static int kv_sum(void *c, unsigned char *out) {
	void *t = kv.ctx_new();
	unsigned int n = 0;
	int ok;
	if (t == NULL) return 0;
	ok = kv.copy(t, c) == 1 && kv.final(t, out, &n) == 1;
	kv.ctx_free(t);
	return ok ? (int)n : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"hash"
	"runtime"
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
			return newEVP, C.GoString(C.kv_version()) + " (" + name + ")", nil
		}
	}
	return nil, "", errors.New("no libcrypto.so.3 or libcrypto.so.1.1 found")
}

// evp is a hash.Hash backed by an EVP_MD_CTX. Its C context is freed when
// the evp is garbage collected.
type evp struct {
	ctx  unsafe.Pointer
	alg  int
	size int
}

func newEVP(alg int) hash.Hash {
	c := C.kv_new(C.int(alg))
	if c == nil {
		// Out of memory in C: nothing sensible can go on.
		panic("digest: libcrypto could not make a digest context")
	}
	h := &evp{ctx: c, alg: alg, size: 48}
	if alg != algSHA384 {
		h.size = 64
	}
	runtime.AddCleanup(h, func(c unsafe.Pointer) { C.kv_free(c) }, c)
	return h
}

func (h *evp) Write(p []byte) (int, error) {
	if len(p) > 0 {
		if C.kv_update(h.ctx, unsafe.Pointer(&p[0]), C.size_t(len(p))) != 1 {
			panic("digest: libcrypto EVP_DigestUpdate failed")
		}
		runtime.KeepAlive(h)
	}
	return len(p), nil
}

func (h *evp) Sum(b []byte) []byte {
	var out [64]byte
	n := C.kv_sum(h.ctx, (*C.uchar)(unsafe.Pointer(&out[0])))
	runtime.KeepAlive(h)
	if int(n) != h.size {
		panic(fmt.Sprintf("digest: libcrypto returned a %d-byte digest, want %d", int(n), h.size))
	}
	return append(b, out[:h.size]...)
}

func (h *evp) Reset() {
	if C.kv_reset(h.ctx, C.int(h.alg)) != 1 {
		panic("digest: libcrypto EVP_DigestInit_ex failed")
	}
	runtime.KeepAlive(h)
}

func (h *evp) Size() int      { return h.size }
func (h *evp) BlockSize() int { return 128 }
