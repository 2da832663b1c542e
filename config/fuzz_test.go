package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse never panics, that its errors always name
// the file, and that a configuration that parses and validates survives a
// round trip: marshalled and parsed again, it still validates and
// marshals to the same bytes.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	seeds, err := filepath.Glob(filepath.Join(testdataDir, "*", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range append(seeds, "smsgw.example.yaml") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("Parse error %T %v, want a *ParseError with problems", err, err)
			}
			for _, p := range pe.Problems {
				if !strings.HasPrefix(p, "fuzz.yaml:") {
					t.Fatalf("problem %q does not name the file", p)
				}
			}
			return
		}
		c.ApplyDefaults()
		if c.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a valid configuration: %v", err)
		}
		c2, err := Parse(out, "again.yaml")
		if err != nil {
			t.Fatalf("Parse of the marshalled configuration: %v\n%s", err, out)
		}
		c2.ApplyDefaults()
		if err := c2.Validate(); err != nil {
			t.Fatalf("Validate of the marshalled configuration: %v\n%s", err, out)
		}
		out2, err := yaml.Marshal(c2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("the round trip changed the configuration:\n%s\nbecame:\n%s", out, out2)
		}
	})
}
