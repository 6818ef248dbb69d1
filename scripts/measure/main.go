// Command measure runs the real kms-verify binary end to end on a large
// artifact and reports wall time and peak memory (max RSS), to show that
// memory does not grow with artifact size (artifacts are hashed while they
// are streamed, never held in memory):
//
//	go run ./scripts/measure -size 64MiB -size 512MiB
//
// Everything is local: a temporary git repository whose build writes SIZE
// bytes with head(1), and a loopback HTTP server that streams the same bytes
// without holding them. The signature check is skipped (--allow-unsigned),
// as is the page check; the numbers are about fetching and hashing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
)

type sizes []int64

func (s *sizes) String() string { return fmt.Sprint(*s) }
func (s *sizes) Set(v string) error {
	n, err := config.ParseSize(v)
	if err == nil {
		*s = append(*s, n)
	}
	return err
}

func main() {
	var list sizes
	flag.Var(&list, "size", "artifact size, e.g. 64MiB (repeatable; default 16MiB and 256MiB)")
	flag.Parse()
	if len(list) == 0 {
		list = sizes{16 << 20, 256 << 20}
	}
	if err := run(list); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func run(list sizes) error {
	work, err := os.MkdirTemp("", "kms-verify-measure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o711); err != nil {
		return err
	}
	bin := filepath.Join(work, "kms-verify")
	// Linked as the Dockerfile links it (see the note there): with GNU ld's
	// output, this kernel maps the binary's text with 2 MiB page-cache
	// folios, and max RSS counts about 8 MiB more of shared file pages.
	build := exec.Command("go", "build", "-ldflags=-linkmode=internal", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %w", err)
	}
	fmt.Printf("%-10s %-10s %-12s %-12s %s\n", "size", "exit", "wall", "max RSS", "throughput")
	for _, size := range list {
		if err := measure(work, bin, size); err != nil {
			return err
		}
	}
	return nil
}

func measure(work, bin string, size int64) error {
	repo := filepath.Join(work, fmt.Sprintf("repo-%d", size))
	script := fmt.Sprintf("#!/bin/sh\nset -eu\nmkdir -p dist\nhead -c %d /dev/zero > dist/big.bin\n", size)
	if _, err := gitrepo.Create(context.Background(), repo, map[string]string{"build.sh": script}, gitrepo.DefaultDate, gitrepo.Tag{Name: "v1"}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.Copy(w, io.LimitReader(zeros{}, size)) // streamed, never held
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cmd := exec.Command(bin, "verify", "--repo", repo, "--tag", "v1", "--build-command", "sh build.sh",
		"--artifact", "dist/big.bin", "--url", "http://"+ln.Addr().String()+"/big.bin",
		"--allow-unsigned", "--skip-page-check", "--max-artifact-size", fmt.Sprint(size+1), "--report", filepath.Join(work, "report.json"))
	cmd.Env = append(os.Environ(), "TMPDIR="+work)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		return fmt.Errorf("%v\n%s", err, out.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	mb := float64(size) / (1 << 20)
	fmt.Printf("%-10s %-10d %-12s %-12s %.0f MiB/s (fetch+hash+build, both copies)\n",
		fmt.Sprintf("%.0fMiB", mb), code, wall.Round(time.Millisecond), fmt.Sprintf("%.1fMiB", float64(rss)/1024), 2*mb/wall.Seconds())
	if code != 0 {
		fmt.Println(out.String())
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
