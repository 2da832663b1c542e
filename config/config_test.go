package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const testdataDir = "../testdata/config"

func TestLoadGood(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"minimal.yaml", func(t *testing.T, c *Config) {
			if c.API.Socket != "smsgw.sock" || c.Store.Dir != "smsgw-data" {
				t.Errorf("socket %q, dir %q: want the defaults", c.API.Socket, c.Store.Dir)
			}
			if c.Drivers[0].Concurrency != 4 {
				t.Errorf("sim concurrency = %d, want 4", c.Drivers[0].Concurrency)
			}
			want := []Route{{Purposes: []string{"otp"}, Drivers: []string{"phone"}}}
			if !reflect.DeepEqual(c.Routes, want) {
				t.Errorf("routes = %+v, want the implicit %+v", c.Routes, want)
			}
			if !c.Policy.Templates["otp_code"].Params["code"].Secret {
				t.Error("param code is not secret")
			}
		}},
		{"full.yaml", func(t *testing.T, c *Config) {
			if c.API.SocketMode != "0600" {
				t.Errorf("socket_mode = %q, want the text as written, 0600", c.API.SocketMode)
			}
			if m, err := c.API.SocketFileMode(); err != nil || m != 0o600 {
				t.Errorf("SocketFileMode() = %v, %v; want 0600", m, err)
			}
			if c.API.MaxBodyBytes != 4096 || c.API.ReadTimeout.Duration != 2*time.Second {
				t.Errorf("api = %+v", c.API)
			}
			fast := c.Drivers[0]
			if fast.Pacing.Max != (Rate{Count: 30, Window: 30 * time.Minute}) || fast.Pacing.Every.Duration != 2*time.Second {
				t.Errorf("pacing = %+v", fast.Pacing)
			}
			if fast.Concurrency != 2 || fast.DeliveryReports == nil || *fast.DeliveryReports {
				t.Errorf("fast = %+v, want concurrency 2 and delivery_reports false", fast)
			}
			wantFailures := Failures{Transient: 0.25, Permanent: 0.25, Uncertain: 0.5, Undelivered: 1}
			if fast.Failures != wantFailures {
				t.Errorf("failures = %+v, want %+v", fast.Failures, wantFailures)
			}
			if len(c.Routes) != 2 || c.Routes[1].Drivers[0] != "spare" {
				t.Errorf("routes = %+v, want the two written", c.Routes)
			}
			if _, ok := c.Policy.Templates["reminder"].Params["when"]; !ok {
				t.Error("a param written with no value is not declared")
			}
			if !reflect.DeepEqual(c.Clients[0].UnixUIDs, []int{1001, 1002}) {
				t.Errorf("uids = %v", c.Clients[0].UnixUIDs)
			}
			if c.Queue.OnUncertain != "retry" || c.Log.Format != "json" {
				t.Errorf("queue %+v, log %+v", c.Queue, c.Log)
			}
		}},
		{"anchors.yaml", func(t *testing.T, c *Config) {
			login := c.Policy.Purposes["login"]
			if login.TTL.Duration != 2*time.Minute || !slices.Equal(login.Templates, []string{"code"}) {
				t.Errorf("login = %+v, want ttl 2m (written) and templates [code] (merged)", login)
			}
			b := c.Drivers[1]
			if b.Name != "b" || b.Type != "sim" || b.Pacing.Every.Duration != 3*time.Second {
				t.Errorf("driver b = %+v, want name b with type and pacing merged from a", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join(testdataDir, "good", tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// badFiles lists, for each file in testdata/config/bad, the substrings its
// error must contain and whether it fails to parse or to validate.
var badFiles = []struct {
	file     string
	parse    bool // a *ParseError, else a *ValidationError
	problems []string
}{
	{"misspelled_key.yaml", true, []string{
		`misspelled_key.yaml:7: unknown key "max_attempt" in queue (did you mean "max_attempts"?)`,
	}},
	{"many_decode_problems.yaml", true, []string{
		`:2: unknown key "sokcet" in api (did you mean "socket"?)`,
		`:3: api.max_body_bytes: expected an integer, got "lots"`,
		`:5: store.retention: invalid duration "5 minutes"`,
		`:7: queue.max_attempts: expected an integer, got "1.5"`,
		`:8: queue.backoff: expected a mapping, got "10s"`,
		`:12: drivers[0].pacing.max: invalid rate "30 per hour"`,
		`:13: drivers[0].delivery_reports: expected true or false, got "yes"`,
		`:14: unknown key "colour" in drivers[0] (valid keys: name, type,`,
		`:15: routes: expected a list, got a mapping`,
		`:17: health.interval: expected a duration such as 30s, got a list`,
	}},
	{"empty.yaml", true, []string{"empty.yaml: the configuration file is empty"}},
	{"two_documents.yaml", true, []string{"two_documents.yaml:4: a second YAML document starts here"}},
	{"syntax.yaml", true, []string{"did not find expected ',' or '}'"}},
	{"not_mapping.yaml", true, []string{"not_mapping.yaml:1: the configuration must be a mapping of sections, got a list"}},
	{"duplicate_key.yaml", true, []string{`duplicate_key.yaml:5: duplicate key "max_attempts" in queue (first set at line 4)`}},
	{"no_drivers.yaml", false, []string{"no_drivers.yaml: drivers: at least one driver is required"}},
	{"drivers.yaml", false, []string{
		":9: drivers[0].failures: transient + permanent + uncertain must be at most 1, got 1.1",
		`:10: drivers[1].name: duplicate driver name "sim" (also drivers[0])`,
		`:11: drivers[1].type: unknown driver type "simm" (known: sim, smsservice, adb, modem)`,
		":13: drivers[2].name: a driver needs a name",
		":14: drivers[2].concurrency: must be at least 1, got -2",
		":15: drivers[2].latency: must not be negative, got -1s",
		":16: drivers[2].failures.uncertain: a probability must be between 0 and 1, got 1.5",
		":16: drivers[2].failures.undelivered: a probability must be between 0 and 1, got -0.1",
		":17: drivers[3].type: a driver needs a type",
	}},
	{"policy.yaml", false, []string{
		":5: policy.purposes.otp.ttl: must be positive",
		`:5: policy.purposes.otp.templates[1]: unknown template "missing"`,
		":6: policy.purposes.empty.templates: a purpose needs at least one template",
		":9: policy.templates.otp_code.text: uses {{.user}}, which is not declared in params",
		":10: policy.templates.otp_code.params.unused: declared but not used in the text",
		":12: policy.templates.broken.text: does not parse",
		":14: policy.templates.looping.text: {{range}} is not supported",
		":17: policy.templates.deep.text: {{.user.name}}: parameters are plain text",
		":20: policy.templates.blank.text: a template needs a text",
	}},
	{"routes.yaml", false, []string{
		`:10: routes[0].purposes[1]: unknown purpose "unknown_purpose" (known: otp, reminder)`,
		`:11: routes[0].drivers[1]: unknown driver "modem" (known: sim)`,
		":12: routes[1].purposes: a route needs at least one purpose",
		":13: routes[1].drivers: a route needs at least one driver",
		":6: policy.purposes.reminder: no route sends this purpose",
	}},
	{"settings.yaml", false, []string{
		`:2: api.socket_mode: invalid socket mode "0999"`,
		":3: api.max_body_bytes: must be positive, got -1",
		":5: store.retention: must be positive",
		":7: queue.max_attempts: must be at least 1, got -1",
		":8: queue.backoff.initial: 20m0s is longer than queue.backoff.max (10m0s)",
		`:9: queue.on_uncertain: unknown value "resend" (use hold or retry)`,
		":10: health.interval: must be positive",
		`:11: log.level: unknown level "verbose"`,
		`:11: log.format: unknown format "xml"`,
	}},
	{"socket_mode_too_wide.yaml", false, []string{`:1: api.socket_mode: socket mode "01777" is above 0777`}},
	{"clients.yaml", false, []string{
		`:10: clients[1].name: duplicate client name "shop" (also clients[0])`,
		`:10: clients[1].unix_uids[0]: uid 1001 already belongs to client "shop"`,
		":10: clients[1].unix_uids[1]: invalid uid -4",
		`:10: clients[1].purposes[0]: unknown purpose "marketing" (known: otp)`,
		":11: clients[2].name: a client needs a name",
	}},
}

func TestLoadBad(t *testing.T) {
	for _, tt := range badFiles {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(testdataDir, "bad", tt.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var problems []string
			var pe *ParseError
			var ve *ValidationError
			switch {
			case errors.As(err, &pe) && tt.parse:
				problems = pe.Problems
			case errors.As(err, &ve) && !tt.parse:
				problems = ve.Problems
			default:
				t.Fatalf("error %T (%v); want a parse error: %v", err, err, tt.parse)
			}
			if len(problems) != len(tt.problems) {
				t.Errorf("%d problems, want %d:\n%v", len(problems), len(tt.problems), err)
			}
			for _, p := range problems {
				if !strings.HasPrefix(p, path+":") {
					t.Errorf("problem %q does not start with the file name", p)
				}
			}
			for _, want := range tt.problems {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(problems) {
				t.Errorf("Error() has %d lines for %d problems", got, len(problems))
			}
		})
	}
}

// TestBadFilesAllListed keeps testdata/config/bad and the table in step.
func TestBadFilesAllListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdataDir, "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tt := range badFiles {
		listed[tt.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no entry in badFiles", f)
		}
		delete(listed, filepath.Base(f))
	}
	for f := range listed {
		t.Errorf("badFiles lists %s, which does not exist", f)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error; none means success
	}{
		{"empty", "", []string{"x.yaml: the configuration file is empty"}},
		{"only a document marker", "---\n", []string{"x.yaml: the configuration file is empty"}},
		{"null values leave defaults", "api:\nqueue: {max_attempts: ~}\n", nil},
		{"unknown top-level key", "drivres: []\n", []string{`x.yaml:1: unknown key "drivres" at the top level (did you mean "drivers"?)`}},
		{"unrelated key lists valid ones", "log: {colour: red}\n", []string{`unknown key "colour" in log (valid keys: level, format)`}},
		{"case and separators suggest", "queue: {maxAttempts: 3}\n", []string{`(did you mean "max_attempts"?)`}},
		{"int overflow", "api: {max_body_bytes: 99999999999999999999}\n", []string{"x.yaml:1: api.max_body_bytes: expected an integer"}},
		{"uid out of int range", "clients: [{unix_uids: [0x7fffffffffffffff]}]\n", nil},
		{"quoted number is not an int", "queue: {max_attempts: \"5\"}\n", []string{`queue.max_attempts: expected an integer, got "5"`}},
		{"int where a float goes", "drivers: [{type: sim, failures: {transient: 1}}]\n", nil},
		{"key that is not text", "api: {[a]: 1}\n", []string{"x.yaml:1: api: a key must be plain text, got a list"}},
		{"merge of a scalar", "api: {<<: 5}\n", []string{"api: a merge key (<<) takes a mapping or a list of mappings"}},
		{"merge of a list", "log: {<<: [{level: info}, {format: json}]}\n", nil},
		{"self-merge terminates", "log: &l {<<: *l, level: info}\n", nil},
		{"alias to a scalar", "store: {dir: &d /srv}\napi: {socket: *d}\n", nil},
		{"custom tag on text", "api: {socket: !weird x}\n", []string{`api.socket: expected text, got "x"`}},
		{"empty rate is unset", "drivers: [{type: sim, pacing: {max: \"\"}}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "x.yaml")
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	in := `
api: {socket: &d /srv/sock, socket_mode: 0o640}
store: {dir: *d}
drivers: [{name: a, type: sim, pacing: {max: 5/1h}}]
log: {<<: [{level: warn}, {level: error, format: text}]}
`
	c, err := Parse([]byte(in), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Dir != "/srv/sock" {
		t.Errorf("store.dir = %q, want the aliased /srv/sock", c.Store.Dir)
	}
	if c.API.SocketMode != "0o640" {
		t.Errorf("socket_mode = %q, want 0o640 as written", c.API.SocketMode)
	}
	if c.Drivers[0].Pacing.Max != (Rate{Count: 5, Window: time.Hour}) {
		t.Errorf("pacing.max = %+v", c.Drivers[0].Pacing.Max)
	}
	if c.Log != (Log{Level: "warn", Format: "text"}) {
		t.Errorf("log = %+v, want the first merged mapping to win", c.Log)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	var b strings.Builder
	b.WriteString("api:\n")
	for i := range 2 * maxProblems {
		b.WriteString("  k" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := Parse([]byte(b.String()), "x.yaml")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse: %v, want a *ParseError", err)
	}
	if len(pe.Problems) != maxProblems+1 {
		t.Errorf("%d problems, want %d and a count of the rest", len(pe.Problems), maxProblems+1)
	}
	if last := pe.Problems[len(pe.Problems)-1]; last != "x.yaml: and 50 more problems" {
		t.Errorf("last problem = %q", last)
	}
}

func TestParseAliasExpansionIsBounded(t *testing.T) {
	// 201 clients, each the same list of 1000 purposes: a small file whose
	// aliases expand past maxNodes.
	in := "clients:\n  - &c {purposes: [" + strings.Repeat("x, ", 999) + "x]}\n" + strings.Repeat("  - *c\n", 200)
	_, err := Parse([]byte(in), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "the document is too large") {
		t.Fatalf("Parse: %v, want the document to be refused as too large", err)
	}
	// The same shape below the bound is fine.
	in = "clients:\n  - &c {purposes: [" + strings.Repeat("x, ", 99) + "x]}\n" + strings.Repeat("  - *c\n", 20)
	if _, err := Parse([]byte(in), "x.yaml"); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}

func TestParseDriverKeysOfOtherType(t *testing.T) {
	// A second type, modem, that shares the outbox key with sim, so that
	// keys of one type set on a driver of another can be tried.
	types := []driverType{
		driverTypes[0],
		{name: "modem", keys: []string{"outbox"}},
	}
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"sim keys on a sim", "drivers: [{name: a, type: sim, latency: 1s, outbox: o}]\n", nil},
		{"modem key on a modem", "drivers: [{name: a, type: modem, outbox: o}]\n", nil},
		{"sim keys on a modem", "drivers:\n  - name: a\n    type: modem\n    latency: 1s\n    failures: {transient: 0.1}\n", []string{
			`x.yaml:4: key "latency" in drivers[0] applies only to drivers of type sim, not "modem"`,
			`x.yaml:5: key "failures" in drivers[0] applies only to drivers of type sim, not "modem"`,
		}},
		{"unknown type is left to Validate", "drivers: [{name: a, type: adb, latency: 1s}]\n", nil},
		{"common keys on any type", "drivers: [{name: a, type: modem, concurrency: 2, pacing: {every: 1s}}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWithTypes([]byte(tt.in), "x.yaml", types)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("parse: %v, want a *ParseError", err)
			}
			if !slices.Equal(pe.Problems, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(pe.Problems, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDriverTypeTable checks the driver type table against Driver.
func TestDriverTypeTable(t *testing.T) {
	fields := yamlFields(reflect.TypeFor[Driver]())
	for _, dt := range driverTypes {
		for _, k := range dt.keys {
			if _, ok := fields.byKey[k]; !ok {
				t.Errorf("type %s claims key %q, which Driver does not have", dt.name, k)
			}
		}
	}
	var common []string
	for _, k := range fields.keys {
		if len(keyOwners(driverTypes, k)) == 0 {
			common = append(common, k)
		}
	}
	if want := []string{"name", "type", "pacing", "concurrency"}; !slices.Equal(common, want) {
		t.Errorf("keys common to every driver type = %v, want %v; give a new key to its type in driverTypes", common, want)
	}
	if !slices.Equal(KnownDriverTypes, []string{"sim", "smsservice", "adb", "modem"}) {
		t.Errorf("KnownDriverTypes = %v", KnownDriverTypes)
	}
}

// validConfig returns a small valid configuration with defaults applied.
func validConfig(t *testing.T) *Config {
	t.Helper()
	c := &Config{
		Drivers: []Driver{{Name: "a", Type: "sim"}, {Name: "b", Type: "sim"}},
		Policy: Policy{
			Purposes: map[string]Purpose{"otp": {TTL: Duration{time.Minute}, Templates: []string{"code"}}},
			Templates: map[string]Template{"code": {
				Text:   "{{.code}}",
				Params: map[string]Param{"code": {Secret: true}},
			}},
		},
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("the base configuration is invalid: %v", err)
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // the problems, exactly
	}{
		{"valid", func(*Config) {}, nil},
		{"no drivers", func(c *Config) { c.Drivers, c.Routes = nil, nil }, []string{
			"drivers: at least one driver is required",
		}},
		{"no purposes", func(c *Config) { c.Policy.Purposes, c.Routes = nil, nil }, []string{
			"policy.purposes: at least one purpose is required",
		}},
		{"failures on the edge", func(c *Config) {
			c.Drivers[0].Failures = Failures{Transient: 0.5, Permanent: 0.25, Uncertain: 0.25, Undelivered: 1}
		}, nil},
		{"failures just over", func(c *Config) {
			c.Drivers[0].Failures = Failures{Transient: 0.5, Permanent: 0.5, Uncertain: 0.01}
		}, []string{"drivers[0].failures: transient + permanent + uncertain must be at most 1, got 1.01"}},
		{"backoff equal bounds", func(c *Config) { c.Queue.Backoff.Max = c.Queue.Backoff.Initial }, nil},
		{"zero send timeout", func(c *Config) { c.Queue.SendTimeout = Duration{} }, []string{
			"queue.send_timeout: must be positive, got 0s",
		}},
		{"negative pacing", func(c *Config) { c.Drivers[1].Pacing.Every = Duration{-time.Second} }, []string{
			"drivers[1].pacing.every: must not be negative, got -1s",
		}},
		{"empty socket and store", func(c *Config) { c.API.Socket, c.Store.Dir = "", "" }, []string{
			"api.socket: must be set",
			"store.dir: must be set",
		}},
		{"template with dot", func(c *Config) {
			c.Policy.Templates["code"] = Template{Text: "{{.}}", Params: map[string]Param{"code": {}}}
		}, []string{
			"policy.templates.code.text: {{.}} is not allowed; name a parameter, as in {{.code}}",
		}},
		{"template with function", func(c *Config) {
			c.Policy.Templates["code"] = Template{Text: "{{if .code}}{{printf \"%s\" .code}}{{else}}{{$.code}}{{end}}", Params: map[string]Param{"code": {}}}
		}, nil},
		{"unknown function", func(c *Config) {
			c.Policy.Templates["code"] = Template{Text: "{{upper .code}}", Params: map[string]Param{"code": {}}}
		}, []string{
			`policy.templates.code.text: does not parse: template: text:1: function "upper" not defined`,
		}},
		{"route to a missing driver", func(c *Config) { c.Routes[0].Drivers = []string{"a", "c"} }, []string{
			`routes[0].drivers[1]: unknown driver "c" (known: a, b)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.change(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %v, want a *ValidationError", err)
			}
			if !slices.Equal(ve.Problems, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ve.Problems, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateBoundsItsReport(t *testing.T) {
	c := validConfig(t)
	for range 2 * maxProblems {
		c.Drivers = append(c.Drivers, Driver{Name: "x", Type: "sim", Concurrency: 1})
	}
	for i := range 11 {
		c.Policy.Purposes[fmt.Sprint("p", i)] = Purpose{TTL: Duration{time.Minute}, Templates: []string{"code"}}
	}
	c.Clients = []Client{{Name: "c", Purposes: []string{"nope"}}}
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate: %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != maxProblems+1 {
		t.Fatalf("%d problems, want %d and a count of the rest", len(ve.Problems), maxProblems+1)
	}
	// The routes, built before the purposes were added, leave eleven
	// purposes unrouted; the client problem comes first.
	if want := `clients[0].purposes[0]: unknown purpose "nope" (12 defined)`; ve.Problems[0] != want {
		t.Errorf("first problem = %q, want %q", ve.Problems[0], want)
	}
	// One client problem, a duplicate name for every added driver but the
	// first, and eleven unrouted purposes.
	total := 1 + (2*maxProblems - 1) + 11
	if want := fmt.Sprintf("and %d more problems", total-maxProblems); ve.Problems[maxProblems] != want {
		t.Errorf("last problem = %q, want %q", ve.Problems[maxProblems], want)
	}
}

func TestTemplateFields(t *testing.T) {
	tests := []struct {
		text    string
		want    []string
		wantErr string
	}{
		{"plain text", nil, ""},
		{"{{.a}} and {{.b}}", []string{"a", "b"}, ""},
		{"{{if .a}}{{.b}}{{else if .c}}x{{else}}{{.d}}{{end}}", []string{"a", "b", "c", "d"}, ""},
		{`{{printf "%s-%s" .a $.b | print}}`, []string{"a", "b"}, ""},
		{"{{$x := .a}}{{$x}}", []string{"a"}, ""},
		{"{{/* note */}}{{.a}}", []string{"a"}, ""},
		{"{{.a.b}}", nil, "{{.a.b}}: parameters are plain text"},
		{"{{(.a).b}}", nil, "parameters are plain text"},
		{"{{with .a}}{{.}}{{end}}", nil, "{{with}} is not supported"},
		{"{{range .a}}x{{end}}", nil, "{{range}} is not supported"},
		{`{{define "x"}}y{{end}}{{template "x"}}`, nil, "nested templates"},
		{"{{.a", nil, "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			used, err := templateFields(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for f := range used {
				got = append(got, f)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSocketFileMode(t *testing.T) {
	tests := []struct {
		mode    string
		want    fs.FileMode
		wantErr bool
	}{
		{"0660", 0o660, false},
		{"660", 0o660, false},
		{"0o600", 0o600, false},
		{"0777", 0o777, false},
		{"0", 0, false},
		{"01000", 0, true},
		{"0888", 0, true},
		{"", 0, true},
		{"-0660", 0, true},
		{"rw-rw----", 0, true},
	}
	for _, tt := range tests {
		got, err := API{SocketMode: tt.mode}.SocketFileMode()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("SocketFileMode(%q) = %v, %v; want %v, error %v", tt.mode, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	c := &Config{
		Drivers: []Driver{{Name: "first", Type: "sim"}, {Name: "second", Type: "other"}, {Name: "third", Type: "sim", Concurrency: 7}},
		Policy:  Policy{Purposes: map[string]Purpose{"reminder": {}, "otp": {}}},
		Queue:   Queue{MaxAttempts: 2, Backoff: Backoff{Max: Duration{time.Hour}}},
		Log:     Log{Level: "debug"},
	}
	c.ApplyDefaults()
	want := &Config{
		API: API{
			Socket: "smsgw.sock", SocketMode: "0660", MaxBodyBytes: 65536,
			ReadTimeout: Duration{10 * time.Second}, WriteTimeout: Duration{10 * time.Second},
			IdempotencyTTL: Duration{24 * time.Hour},
		},
		Store:  Store{Dir: "smsgw-data", Retention: Duration{720 * time.Hour}, GCInterval: Duration{5 * time.Minute}},
		Policy: Policy{Purposes: map[string]Purpose{"reminder": {}, "otp": {}}},
		Queue: Queue{
			MaxAttempts: 2,
			Backoff:     Backoff{Initial: Duration{10 * time.Second}, Max: Duration{time.Hour}},
			OnUncertain: "hold", SendTimeout: Duration{time.Minute},
		},
		Drivers: []Driver{
			{Name: "first", Type: "sim", Concurrency: 4},
			{Name: "second", Type: "other", Concurrency: 1},
			{Name: "third", Type: "sim", Concurrency: 7},
		},
		Routes: []Route{{Purposes: []string{"otp", "reminder"}, Drivers: []string{"first", "second", "third"}}},
		Health: Health{Interval: Duration{30 * time.Second}},
		Log:    Log{Level: "debug", Format: "auto"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("after ApplyDefaults:\n%+v\nwant:\n%+v", c, want)
	}
	c.ApplyDefaults()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("a second ApplyDefaults changed the configuration:\n%+v", c)
	}
}

func TestApplyDefaultsKeepsRoutes(t *testing.T) {
	routes := []Route{{Purposes: []string{"otp"}, Drivers: []string{"b"}}}
	c := &Config{
		Drivers: []Driver{{Name: "a", Type: "sim"}, {Name: "b", Type: "sim"}},
		Policy:  Policy{Purposes: map[string]Purpose{"otp": {}}},
		Routes:  slices.Clone(routes),
	}
	c.ApplyDefaults()
	if !reflect.DeepEqual(c.Routes, routes) {
		t.Errorf("routes = %+v, want the configured %+v", c.Routes, routes)
	}
}

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Drivers) != 1 {
		t.Fatalf("drivers = %+v, want one", c.Drivers)
	}
	d := c.Drivers[0]
	if d.Name != "sim" || d.Type != "sim" || d.Latency.Duration != 200*time.Millisecond ||
		d.DeliveryReports == nil || !*d.DeliveryReports || d.DeliveryDelay.Duration != time.Second {
		t.Errorf("driver = %+v", d)
	}
	if c.API.Socket != "smsgw.sock" || c.Store.Dir != "smsgw-data" {
		t.Errorf("socket %q, store %q; want them relative to the working directory", c.API.Socket, c.Store.Dir)
	}
	wantPurposes := map[string]Purpose{
		"otp": {TTL: Duration{5 * time.Minute}, Templates: []string{"otp_code"}, MaxSegments: 1,
			Limits: PurposeLimits{PerRecipient: Rate{Count: 10, Window: time.Hour}}},
		"reminder": {TTL: Duration{12 * time.Hour}, Templates: []string{"appointment_reminder"}},
	}
	if want := (Rate{Count: 20, Window: time.Hour}); c.Policy.Limits.PerRecipient != want {
		t.Errorf("policy.limits.per_recipient = %v, want %v", c.Policy.Limits.PerRecipient, want)
	}
	if !reflect.DeepEqual(c.Policy.Purposes, wantPurposes) {
		t.Errorf("purposes = %+v", c.Policy.Purposes)
	}
	wantTemplates := map[string]Template{
		"otp_code": {
			Text:   "Your code is {{.code}}. It expires in 5 minutes.",
			Params: map[string]Param{"code": {Secret: true, Pattern: "^[0-9A-Za-z]{4,10}$"}},
		},
		"appointment_reminder": {
			Text:   "Reminder: your appointment is on {{.when}} at {{.where}}.",
			Params: map[string]Param{"when": {}, "where": {}},
		},
	}
	if !reflect.DeepEqual(c.Policy.Templates, wantTemplates) {
		t.Errorf("templates = %+v", c.Policy.Templates)
	}
	wantRoutes := []Route{{Purposes: []string{"otp", "reminder"}, Drivers: []string{"sim"}}}
	if !reflect.DeepEqual(c.Routes, wantRoutes) {
		t.Errorf("routes = %+v, want %+v", c.Routes, wantRoutes)
	}
}

func TestResolve(t *testing.T) {
	c := &Config{
		API:   API{Socket: "run/api.sock"},
		Store: Store{Dir: "/var/lib/smsgw"},
		Drivers: []Driver{
			{Name: "a", Type: "sim", Outbox: "out/a.log"},
			{Name: "b", Type: "sim"},
			{Name: "c", Type: "sim", Outbox: "/tmp/c.log"},
			{Name: "d", Type: "unknown", Outbox: "d.log"},
		},
	}
	c.Resolve("/home/op")
	got := []string{c.API.Socket, c.Store.Dir, c.Drivers[0].Outbox, c.Drivers[1].Outbox, c.Drivers[2].Outbox, c.Drivers[3].Outbox}
	want := []string{"/home/op/run/api.sock", "/var/lib/smsgw", "/home/op/out/a.log", "", "/tmp/c.log", "d.log"}
	if !slices.Equal(got, want) {
		t.Errorf("resolved paths = %q, want %q", got, want)
	}
}

func TestSuggest(t *testing.T) {
	valid := []string{"max_attempts", "backoff", "on_uncertain", "send_timeout"}
	tests := []struct{ key, want string }{
		{"max_attempt", "max_attempts"},
		{"MaxAttempts", "max_attempts"},
		{"bakcoff", "backoff"},
		{"on-uncertain", "on_uncertain"},
		{"timeout", ""},
		{"zz", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, valid); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestDurationAndRateText(t *testing.T) {
	tests := []struct {
		in      string
		rate    bool
		want    string // MarshalText of the parsed value
		wantErr string
	}{
		{"90s", false, "1m30s", ""},
		{"0", false, "0s", ""},
		{"5 minutes", false, "", `invalid duration "5 minutes"`},
		{"300", false, "", `invalid duration "300"`},
		{"30/30m", true, "30/30m0s", ""},
		{" 5 / 1h ", true, "5/1h0m0s", ""},
		{"", true, "", ""},
		{"30", true, "", `invalid rate "30" (use forms like 30/30m)`},
		{"0/1m", true, "", "count must be a positive integer"},
		{"3/0s", true, "", "window must be a positive duration"},
		{"3/soon", true, "", "window must be a positive duration"},
	}
	for _, tt := range tests {
		var v interface {
			UnmarshalText([]byte) error
			MarshalText() ([]byte, error)
		}
		if tt.rate {
			v = new(Rate)
		} else {
			v = new(Duration)
		}
		err := v.UnmarshalText([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UnmarshalText(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if got, _ := v.MarshalText(); string(got) != tt.want {
			t.Errorf("MarshalText after UnmarshalText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorsJoinProblems(t *testing.T) {
	for _, err := range []error{
		&ParseError{Problems: []string{"a", "b"}},
		&ValidationError{Problems: []string{"a", "b"}},
	} {
		if got := err.Error(); got != "a\nb" {
			t.Errorf("%T.Error() = %q, want one problem a line", err, got)
		}
	}
}

func TestExampleFileLoads(t *testing.T) {
	if _, err := Load("smsgw.example.yaml"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("smsgw.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	written := yamlKeyPaths(t, data)
	for _, p := range structKeyPaths(reflect.TypeFor[Config](), "") {
		if !written[p] {
			t.Errorf("smsgw.example.yaml does not document %s", p)
		}
	}
}

// structKeyPaths returns the key paths a file can hold for type t, such as
// "queue.backoff.initial", "drivers[].name" or "policy.purposes.*.ttl".
func structKeyPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var out []string
		fields := yamlFields(t)
		for _, k := range fields.keys {
			p := joinPath(prefix, k)
			out = append(out, p)
			out = append(out, structKeyPaths(t.Field(fields.byKey[k]).Type, p)...)
		}
		return out
	case reflect.Map:
		return structKeyPaths(t.Elem(), prefix+".*")
	case reflect.Slice:
		return structKeyPaths(t.Elem(), prefix+"[]")
	default:
		return nil
	}
}

// yamlKeyPaths returns the key paths written in a configuration file, in
// the form structKeyPaths uses.
func yamlKeyPaths(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(n *yaml.Node, t reflect.Type, prefix string)
	walk = func(n *yaml.Node, t reflect.Type, prefix string) {
		n = unalias(n)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return
		}
		switch {
		case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if f, ok := fields.byKey[k]; ok {
					p := joinPath(prefix, k)
					out[p] = true
					walk(n.Content[i+1], t.Field(f).Type, p)
				}
			}
		case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i], t.Elem(), prefix+".*")
			}
		case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, t.Elem(), prefix+"[]")
			}
		}
	}
	walk(doc.Content[0], reflect.TypeFor[Config](), "")
	return out
}
