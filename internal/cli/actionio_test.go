package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// codeInputs is every action input the code reads: the option tables and
// each literal runner.Input("name") call.
func codeInputs(t *testing.T) map[string]bool {
	in := map[string]bool{}
	for _, o := range verifyOptions {
		in[o.name] = true
	}
	for _, o := range dispatchOptions {
		if !o.cliOnly {
			in[o.name] = true
		}
	}
	for _, lit := range scanCalls(t, "Input") {
		in[lit] = true
	}
	return in
}

// scanCalls returns the string-literal first arguments of every call to a
// method named method in the package's non-test files; for SetOutput it
// also returns the first element of every [2]string literal (the output
// lists fed to SetOutput in a loop).
func scanCalls(t *testing.T, method string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if ok && sel.Sel.Name == method && len(n.Args) > 0 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			case *ast.CompositeLit:
				if method != "SetOutput" || len(n.Elts) != 2 {
					return true
				}
				if at, ok := n.Type.(*ast.ArrayType); ok && at.Len != nil {
					if id, ok := at.Elt.(*ast.Ident); !ok || id.Name != "string" {
						return true
					}
				}
				if n.Type == nil || isPairType(n.Type) {
					if lit, ok := n.Elts[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			}
			return true
		})
	}
	return out
}

func isPairType(e ast.Expr) bool {
	at, ok := e.(*ast.ArrayType)
	if !ok || at.Len == nil {
		return false
	}
	l, ok := at.Len.(*ast.BasicLit)
	id, ok2 := at.Elt.(*ast.Ident)
	return ok && ok2 && l.Value == "2" && id.Name == "string"
}

var readmeName = regexp.MustCompile("`([a-z][a-z0-9-]*)`")

// readmeSection returns the text of the README section with this heading,
// up to the next heading of the same or a higher level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	s = s[i+len(heading)+2:]
	if j := regexp.MustCompile(`\n#{2,3} `).FindStringIndex(s); j != nil {
		s = s[:j[0]]
	}
	return s
}

// firstColumn returns the backticked names in the first cell of each table row.
func firstColumn(section string) []string {
	var out []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range readmeName.FindAllStringSubmatch(cells[1], -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// TestActionInputsAndOutputsAreUsedAndDocumented: every input and output
// action.yml declares is read or written by the code and named in the
// README's Inputs/Outputs sections, and the reverse.
func TestActionInputsAndOutputsAreUsedAndDocumented(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Inputs  map[string]any `yaml:"inputs"`
		Outputs map[string]any `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]bool{}
	for _, o := range scanCalls(t, "SetOutput") {
		outputs[o] = true
	}
	for _, tc := range []struct {
		kind     string
		declared map[string]any
		code     map[string]bool
		section  string
	}{
		{"input", meta.Inputs, codeInputs(t), "### Inputs"},
		{"output", meta.Outputs, outputs, "### Outputs"},
	} {
		section := readmeSection(t, tc.section)
		documented := map[string]bool{}
		for _, m := range readmeName.FindAllStringSubmatch(section, -1) {
			documented[m[1]] = true
		}
		var problems []string
		for name := range tc.declared {
			if !tc.code[name] {
				problems = append(problems, "action.yml declares "+tc.kind+" "+name+", which the code never uses")
			}
			if !documented[name] {
				problems = append(problems, "action.yml declares "+tc.kind+" "+name+", which README "+tc.section+" does not name")
			}
		}
		for name := range tc.code {
			if _, ok := tc.declared[name]; !ok {
				problems = append(problems, "the code uses "+tc.kind+" "+name+", which action.yml does not declare")
			}
		}
		for _, name := range firstColumn(section) {
			if _, ok := tc.declared[name]; !ok {
				problems = append(problems, "README "+tc.section+" lists "+tc.kind+" "+name+", which action.yml does not declare")
			}
		}
		sort.Strings(problems)
		for _, p := range problems {
			t.Error(p)
		}
	}
}
