package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// maxNodes bounds the work of decoding one file, so that aliases
	// cannot expand a small file into a huge one.
	maxNodes = 100_000
	// maxProblems bounds how many problems one error lists.
	maxProblems = 50
)

// ParseError lists every problem found while decoding a configuration
// file, each naming the file and, when known, the line.
type ParseError struct {
	Problems []string
}

// Error returns the problems one per line.
func (e *ParseError) Error() string { return strings.Join(e.Problems, "\n") }

// source records where a Config was read from.
type source struct {
	name string
	// lines maps a key path such as "queue.backoff.initial" or
	// "drivers[1]" to the line it was read from.
	lines map[string]int
}

// Load reads the configuration file at path, decodes it strictly, applies
// the defaults and validates the result.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes one YAML document into a Config without applying defaults
// or validating it. name is the file name used in messages. Unknown keys,
// keys set on the wrong driver type, duplicate keys and values of the
// wrong type are all reported together in a *ParseError.
func Parse(data []byte, name string) (*Config, error) {
	return parseWithTypes(data, name, driverTypes)
}

// parseWithTypes is Parse with the driver type table as a parameter.
func parseWithTypes(data []byte, name string, types []driverType) (*Config, error) {
	root, err := parseDocument(data, name)
	if err != nil {
		return nil, &ParseError{Problems: []string{err.Error()}}
	}
	d := &decoder{name: name, types: types, lines: map[string]int{}}
	var c Config
	d.decode(root, reflect.ValueOf(&c).Elem(), "")
	if len(d.problems) > 0 {
		if d.dropped > 0 {
			d.problems = append(d.problems, fmt.Sprintf("%s: and %d more problems", name, d.dropped))
		}
		return nil, &ParseError{Problems: d.problems}
	}
	c.src = &source{name: name, lines: d.lines}
	return &c, nil
}

// parseDocument returns the top-level mapping of the only document in data.
func parseDocument(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the configuration file is empty", name)
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(name, err)
	default:
		return nil, fmt.Errorf("%s:%d: a second YAML document starts here; a configuration file holds exactly one", name, documentLine(&next))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: the configuration file is empty", name)
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, fmt.Errorf("%s: the configuration file is empty", name)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the configuration must be a mapping of sections, got %s", name, root.Line, describe(root))
	}
	return root, nil
}

// documentLine returns the first line of a document node's content.
func documentLine(doc *yaml.Node) int {
	if len(doc.Content) > 0 {
		return doc.Content[0].Line
	}
	return doc.Line
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError rewrites a YAML parser error as "name:line: message".
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %s", name, strings.TrimPrefix(msg, "yaml: "))
}

// decoder walks a yaml.Node tree against a Go value, guided by the yaml
// struct tags, and collects every problem instead of stopping at the first.
type decoder struct {
	name     string
	types    []driverType
	lines    map[string]int
	problems []string
	dropped  int
	nodes    int
}

// problem records a problem at line (0 when unknown).
func (d *decoder) problem(line int, format string, args ...any) {
	if len(d.problems) >= maxProblems {
		d.dropped++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		d.problems = append(d.problems, fmt.Sprintf("%s:%d: %s", d.name, line, msg))
	} else {
		d.problems = append(d.problems, fmt.Sprintf("%s: %s", d.name, msg))
	}
}

// spend counts one node against maxNodes and reports whether decoding may
// go on.
func (d *decoder) spend(n *yaml.Node) bool {
	d.nodes++
	if d.nodes == maxNodes+1 {
		d.problem(n.Line, "the document is too large (more than %d nodes once aliases are expanded)", maxNodes)
	}
	return d.nodes <= maxNodes
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// decode stores n into v, which describes the key path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = unalias(n)
	if !d.spend(n) || isNull(n) {
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		if !d.expectScalar(n, path, textKind(v.Type())) {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.problem(n.Line, "%s: %v", path, err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		if d.expectScalar(n, path, "text") {
			v.SetString(n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.problem(n.Line, "%s: expected an integer, got %s", path, describe(n))
			return
		}
		if v.OverflowInt(i) {
			d.problem(n.Line, "%s: %s is out of range", path, clip(n.Value))
			return
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil {
			d.problem(n.Line, "%s: expected a number, got %s", path, describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.problem(n.Line, "%s: expected true or false, got %s", path, describe(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

// textKind names what a text-decoded type expects, for messages.
func textKind(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return "a duration such as 30s"
	case reflect.TypeFor[Rate]():
		return "a rate such as 30/30m"
	default:
		return "text"
	}
}

// scalarTags are the tags a text value may carry; its text is used as
// written, so socket_mode: 0660 stays "0660".
var scalarTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!timestamp"}

func (d *decoder) expectScalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode || !slices.Contains(scalarTags, n.ShortTag()) {
		d.problem(n.Line, "%s: expected %s, got %s", path, want, describe(n))
		return false
	}
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, "%s: expected a mapping, got %s", section(path), describe(n))
		return
	}
	fields := yamlFields(v.Type())
	pairs := d.pairs(n, path)
	for _, p := range pairs {
		key := p.key.Value
		f, ok := fields.byKey[key]
		if !ok {
			d.unknownKey(p.key, path, fields.keys)
			continue
		}
		fp := joinPath(path, key)
		d.lines[fp] = p.key.Line
		d.decode(p.value, v.Field(f), fp)
	}
	if v.Type() == reflect.TypeFor[Driver]() {
		d.checkDriverKeys(pairs, v.Addr().Interface().(*Driver), path)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, "%s: expected a mapping, got %s", section(path), describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, p := range d.pairs(n, path) {
		fp := joinPath(path, p.key.Value)
		d.lines[fp] = p.key.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.value, elem, fp)
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), elem)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(n.Line, "%s: expected a list, got %s", section(path), describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		fp := fmt.Sprintf("%s[%d]", path, i)
		d.lines[fp] = item.Line
		d.decode(item, s.Index(i), fp)
	}
	v.Set(s)
}

// pair is one key and its value in a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs returns the entries of mapping n with merge keys (<<) expanded:
// keys written in n win over merged ones, and earlier merged mappings win
// over later ones. Duplicate keys written in n are problems.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	first := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.problem(k.Line, "%s: a key must be plain text, got %s", section(path), describe(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.problem(k.Line, "duplicate key %q %s (first set at line %d)", clip(k.Value), where(path), line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, pair{k, val})
	}
	seen := map[*yaml.Node]bool{n: true}
	for _, m := range merges {
		for _, p := range d.merged(m, path, seen) {
			if _, set := first[p.key.Value]; !set {
				first[p.key.Value] = p.key.Line
				out = append(out, p)
			}
		}
	}
	return out
}

// merged returns the entries a merge key's value brings in: a mapping or
// a list of mappings, usually aliases.
func (d *decoder) merged(v *yaml.Node, path string, seen map[*yaml.Node]bool) []pair {
	v = unalias(v)
	if !d.spend(v) {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		if seen[v] {
			return nil
		}
		seen[v] = true
		var out []pair
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := v.Content[i]
			if isMergeKey(k) {
				out = append(out, d.merged(v.Content[i+1], path, seen)...)
			} else if k.Kind == yaml.ScalarNode {
				out = append(out, pair{k, v.Content[i+1]})
			}
		}
		return out
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			if unalias(item).Kind != yaml.MappingNode {
				d.problem(item.Line, "%s: a merge key (<<) takes a mapping or a list of mappings, got %s", section(path), describe(item))
				continue
			}
			out = append(out, d.merged(item, path, seen)...)
		}
		return out
	default:
		d.problem(v.Line, "%s: a merge key (<<) takes a mapping or a list of mappings, got %s", section(path), describe(v))
		return nil
	}
}

// unknownKey reports key, suggesting the closest valid key.
func (d *decoder) unknownKey(key *yaml.Node, path string, valid []string) {
	if len(d.problems) >= maxProblems {
		d.dropped++
		return
	}
	name := clip(key.Value)
	if s := suggest(key.Value, valid); s != "" {
		d.problem(key.Line, "unknown key %q %s (did you mean %q?)", name, where(path), s)
		return
	}
	d.problem(key.Line, "unknown key %q %s (valid keys: %s)", name, where(path), strings.Join(valid, ", "))
}

// checkDriverKeys reports keys that belong to another driver type than
// drv's. A driver with a missing or unknown type is left to Validate.
func (d *decoder) checkDriverKeys(pairs []pair, drv *Driver, path string) {
	if _, known := lookupDriverType(d.types, drv.Type); !known {
		return
	}
	for _, p := range pairs {
		owners := keyOwners(d.types, p.key.Value)
		if len(owners) == 0 || slices.Contains(owners, drv.Type) {
			continue
		}
		d.problem(p.key.Line, "key %q %s applies only to drivers of type %s, not %q",
			p.key.Value, where(path), strings.Join(owners, " or "), drv.Type)
	}
}

// structFields maps the yaml keys of a struct type to field indexes.
type structFields struct {
	byKey map[string]int
	keys  []string // in declaration order
}

// yamlFields returns the yaml keys of struct type t. Fields without a
// yaml tag and unexported fields are not part of the file format.
func yamlFields(t reflect.Type) structFields {
	fs := structFields{byKey: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		key := yamlKey(f)
		if key == "" {
			continue
		}
		fs.byKey[key] = i
		fs.keys = append(fs.keys, key)
	}
	return fs
}

// yamlKey returns the yaml key of a struct field, or "" when it has none.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = unalias(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(clip(n.Value))
	default:
		return "an empty node"
	}
}

// clip shortens text quoted in messages.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// section names a key path in messages.
func section(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// where places a key path in messages: "in queue", "at the top level".
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// suggest returns the valid key closest to key, or "" when none is close.
func suggest(key string, valid []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", -1
	for _, v := range valid {
		if norm(v) == norm(key) {
			return v
		}
		// A close key differs by one edit, or by at most a third of its
		// length; the length difference bounds the distance from below.
		limit := max(1, len(v)/3)
		if abs(len(key)-len(v)) > limit {
			continue
		}
		dist := editDistance(key, v)
		if dist > limit {
			continue
		}
		if bestDist < 0 || dist < bestDist {
			best, bestDist = v, dist
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
