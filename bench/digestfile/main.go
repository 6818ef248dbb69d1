// Command digestfile hashes one file the way kms-verify hashes an artifact
// (package digest: SHA-256 and SHA-384 in one streaming pass, SHA-512 with
// -sha512) and prints the SHA-256 and the SRI; -backend names the SHA-384
// implementation (OpenSSL's libcrypto or Go's). bench/digest.sh times it
// against openssl.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lukium/kms-verify-action/internal/digest"
)

func main() {
	with512 := flag.Bool("sha512", false, "also compute SHA-512")
	backend := flag.Bool("backend", false, "print the SHA-384 implementation and exit")
	flag.Parse()
	if *backend {
		fmt.Println(digest.Backend())
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: digestfile [-sha512] FILE")
		os.Exit(2)
	}
	var opts []digest.Option
	if *with512 {
		opts = append(opts, digest.WithSHA512())
	}
	s, err := digest.File(flag.Arg(0), 1<<40, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s  %s  %s\n", s.SHA256Hex(), s.SRI("sha384"), flag.Arg(0))
}
