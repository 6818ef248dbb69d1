package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/fetch"
)

// Environment of the re-executed verifier in TestHostileBuildRace.
const (
	raceChildVar  = "KMS_VERIFY_RACE_CHILD"
	raceSecretVar = "KMS_VERIFY_RACE_SECRET_FILE"
	raceRounds    = 20 // per mode; the old code lost about 1 round in 10
)

// TestHostileBuildRace races a build that leaves a setsid loop behind,
// swapping the artifact for a link to /proc/self/environ and to a root-only
// secret file, against the verifier, many times. The verifier is this test
// binary run again with a token in its real environment (so
// /proc/self/environ holds it). No byte of the token or of the secret may
// reach the evidence folder, the report or the output; no work folder may be
// left behind; and the build must not be able to read the evidence folder
// while it runs.
func TestHostileBuildRace(t *testing.T) {
	if os.Getenv(raceChildVar) != "" {
		raceChild(t)
		return
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("the symlink swapper is a perl loop (a shell loop is too slow to race); perl is not installed")
	}
	if testing.Short() {
		t.Skip("re-runs the verifier many times")
	}
	t.Parallel()
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := "ghs_racesecret" + hex.EncodeToString(b[:])
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret-file-"+token), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileBuildRace$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), raceChildVar+"=1", raceSecretVar+"="+secret,
		"GITHUB_TOKEN="+token, "INPUT_GITHUB-TOKEN="+token, "INPUT_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the verifier under attack: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestHostileBuildRace")) {
		t.Fatalf("the child did not run the race:\n%s", out)
	}
	t.Logf("%s", lastLine(out))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "rounds:") {
			return lines[i]
		}
	}
	return ""
}

func raceChild(t *testing.T) {
	token := os.Getenv("GITHUB_TOKEN")
	secretFile := os.Getenv(raceSecretVar)
	if token == "" || secretFile == "" {
		t.Fatal("the race child needs its token and secret file")
	}
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	modes := []string{"same-user"}
	if os.Geteuid() == 0 {
		modes = append([]string{"fresh-uid"}, modes...)
	} else {
		t.Log("not root: only the same-user mode runs (the fresh-uid mode needs root)")
	}
	// A path the build user can reach, holding the evidence folder.
	pub := t.TempDir()
	for _, p := range []string{filepath.Dir(pub), pub} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := map[string]map[int]int{}
	for _, mode := range modes {
		outcomes[mode] = map[int]int{}
		for round := 0; round < raceRounds; round++ {
			base := filepath.Join(pub, fmt.Sprintf("%s-%d", mode, round))
			if err := os.Mkdir(base, 0o755); err != nil {
				t.Fatal(err)
			}
			evidence := filepath.Join(base, "evidence")
			reportPath := filepath.Join(base, "report.json")
			tmp := filepath.Join(base, "tmp")
			if err := os.Mkdir(tmp, 0o711); err != nil {
				t.Fatal(err)
			}
			swapper := `sh build.sh
f=$(ls dist/kms.*.js)
if ls "` + evidence + `" >/dev/null 2>&1 || cat "` + evidence + `/build.log" >/dev/null 2>&1; then echo EVIDENCE-READABLE; fi
setsid perl -e '` + perlSwapper + `' "$f" "` + secretFile + `" </dev/null >/dev/null 2>&1 &
sleep 0.0` + fmt.Sprint(round%5)
			args := verifyArgs(w, c, "", "--allow-unsigned", "--skip-page-check", "--build-command", swapper,
				"--evidence-dir", evidence, "--report", reportPath)
			args = removeFlag(args, "--page-url")
			if mode == "same-user" {
				args = append(args, "--build-as-root")
			}
			var stdout, stderr bytes.Buffer
			e := cli.Env{
				Geteuid: os.Geteuid, Args: args,
				Getenv: os.Getenv, Lookup: os.LookupEnv, // the real environment, token included
				Stdout: &stdout, Stderr: &stderr, TempDir: tmp,
				FetchOptions: fetch.Options{Sleep: func(context.Context, time.Duration) error { return nil }},
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			code := cli.Main(ctx, e)
			cancel()
			outcomes[mode][code]++
			leaks := []string{token, "secret-file-"}
			check := func(what string, data []byte) {
				for _, l := range leaks {
					if bytes.Contains(data, []byte(l)) {
						t.Errorf("%s round %d: %s holds %q", mode, round, what, l)
					}
				}
			}
			check("stdout", stdout.Bytes())
			check("stderr", stderr.Bytes())
			_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					data, _ := os.ReadFile(p)
					check(p, data)
				}
				return nil
			})
			if log, err := os.ReadFile(filepath.Join(evidence, "build.log")); err == nil && mode == "fresh-uid" && bytes.Contains(log, []byte("EVIDENCE-READABLE")) {
				t.Errorf("%s round %d: the build could read the evidence folder while it ran", mode, round)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("%s round %d: work folder left behind: %s", mode, round, left[0].Name())
			}
			if code != cli.ExitVerified && code != cli.ExitInconclusive {
				t.Errorf("%s round %d: exit %d\n%s", mode, round, code, stdout.String())
			}
		}
	}
	t.Logf("rounds: exit codes per mode %v", outcomes)
}

// perlSwapper swaps ARGV[0] for a link to /proc/self/environ, back to its
// bytes, for a link to the secret ARGV[1], and back, as fast as it can, and
// keeps writing files next to it; it gives up after a minute so that a
// broken verifier does not leave it running for ever.
const perlSwapper = `($f, $s) = @ARGV; open(K, "<", $f) or die; { local $/; $k = <K>; } $t = time; $i = 0;
while (time - $t < 60) {
  symlink("/proc/self/environ", "$f.l1"); rename("$f.l1", $f);
  if (open(O, ">", "$f.k1")) { print O $k; close O; rename("$f.k1", $f); }
  symlink($s, "$f.l2"); rename("$f.l2", $f);
  if (open(O, ">", "$f.k2")) { print O $k; close O; rename("$f.k2", $f); }
  mkdir("junk"); if (open(J, ">", "junk/" . ($i++ % 1000))) { close J; }
}`

func removeFlag(args []string, flag string) []string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return append(append([]string{}, args[:i]...), args[i+2:]...)
		}
	}
	return args
}
