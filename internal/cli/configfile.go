package cli

import (
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// loadConfigFile reads a YAML configuration whose keys are the flag names:
// the keys package config knows (the shared settings and the artifacts:
// list) are decoded by it strictly, and every other key that is a flag
// (artifact, url, name, report, summary, evidence-dir, verbose, …) is set
// through the same option table as the flag, so the file accepts every flag
// name. Top-level artifact/url/name fill one, like the flags. Unknown keys
// are still errors.
func loadConfigFile(path string, one *config.Artifact) (config.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return config.Config{}, verdict.Usagef("invalid-config", "--config: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, config.MaxConfigFileSize+1))
	if err != nil {
		return config.Config{}, verdict.Usagef("invalid-config", "--config %q: %v", path, err)
	}
	if len(data) > config.MaxConfigFileSize {
		return config.Config{}, verdict.Usagef("invalid-config", "--config %q is larger than 1 MiB", path)
	}
	type flagValue struct {
		opt  option
		node *yaml.Node
	}
	var flags []flagValue
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		known := map[string]bool{}
		for _, k := range config.FileKeys() {
			known[k] = true
		}
		byName := map[string]option{}
		for _, o := range verifyOptions {
			byName[o.name] = o
		}
		m := doc.Content[0]
		var keep []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if o, isFlag := byName[k.Value]; isFlag && !known[k.Value] {
				flags = append(flags, flagValue{o, v})
				continue
			}
			keep = append(keep, k, v)
		}
		if len(flags) > 0 {
			m.Content = keep
			if data, err = yaml.Marshal(&doc); err != nil {
				return config.Config{}, verdict.Usagef("invalid-config", "configuration file: %v", err)
			}
			if len(keep) == 0 {
				data = []byte("{}\n")
			}
		}
	}
	cfg, err := config.ParseFile(data, config.Config{})
	if err != nil {
		return cfg, err
	}
	for _, fv := range flags {
		values, err := scalarValues(fv.node)
		if err != nil {
			return cfg, verdict.Usagef("invalid-config", "configuration file: key %q: %v", fv.opt.name, err)
		}
		for _, v := range values {
			if err := fv.opt.set(&cfg, one, v); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, nil
}

// scalarValues is a flag's value in the file: one scalar, or a list of
// them for a flag that may be repeated.
func scalarValues(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a list of values is expected", c.Line)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: a value is expected, not a mapping", n.Line)
}
