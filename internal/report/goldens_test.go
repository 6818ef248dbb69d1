package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"golang.org/x/net/html"
)

// The two runs whose summaries the README shows: the demo's verified and
// tampered runs (go run . demo [--tamper] --report …), with the loopback
// addresses and temporary paths replaced by the public ones an Actions run
// would have. Their Markdown and text are golden files; run
// go test ./internal/report -update to rewrite them after a deliberate change.
var goldenRuns = []string{"verified", "tampered"}

func loadRun(t *testing.T, name string) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "runs", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestGoldenRuns(t *testing.T) {
	t.Parallel()
	for _, name := range goldenRuns {
		for _, f := range []struct {
			ext   string
			write func(*bytes.Buffer, *Report) error
		}{
			{"md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
			{"txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		} {
			t.Run(name+"."+f.ext, func(t *testing.T) {
				t.Parallel()
				var b bytes.Buffer
				if err := f.write(&b, loadRun(t, name)); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", "run-"+name+"."+f.ext)
				if *update {
					if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update)", err)
				}
				if diff := cmp.Diff(string(want), b.String()); diff != "" {
					t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", path, diff)
				}
			})
		}
	}
}

// maxTableColumns is the widest table a summary may hold: wider ones push
// the actual values and the explanation off-screen at 1000 px.
const maxTableColumns = 4

// TestGoldenMarkdownRendersNarrow renders every golden summary with a GFM
// renderer (goldmark with the table extension, as GitHub does) and checks
// that no table has more than maxTableColumns columns and that the verdict
// comes first.
func TestGoldenMarkdownRendersNarrow(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.md"))
	if err != nil || len(files) < 2 {
		t.Fatalf("golden Markdown files: %v %v", files, err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := md.Convert(src, &out); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tables, widest := tableWidths(t, out.String())
		if strings.Contains(string(src), "\n| ") && tables == 0 {
			t.Errorf("%s: the renderer found no table; is the table extension on?", f)
		}
		if widest > maxTableColumns {
			t.Errorf("%s: a table has %d columns, more than %d", f, widest, maxTableColumns)
		}
		if !strings.HasPrefix(out.String(), "<h1>kms-verify: ") {
			t.Errorf("%s: the rendered summary does not start with the verdict", f)
		}
	}
}

// tableWidths counts the tables in an HTML document and the most cells in
// any of their rows.
func tableWidths(t *testing.T, doc string) (tables, widest int) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(doc))
	cells := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return tables, widest
		case html.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "table":
				tables++
			case "tr":
				cells = 0
			case "td", "th":
				cells++
				widest = max(widest, cells)
			}
		}
	}
}

func TestTableWidthsCanFail(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	if err := md.Convert([]byte("| a | b | c | d | e |\n| - | - | - | - | - |\n| 1 | 2 | 3 | 4 | 5 |\n"), &out); err != nil {
		t.Fatal(err)
	}
	if n, w := tableWidths(t, out.String()); n != 1 || w != 5 {
		t.Fatalf("tableWidths = %d tables, %d columns; want 1, 5", n, w)
	}
}
