package config

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"smsgw/daemon/access"
)

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []string
}

// Error returns the problems one per line.
func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// Accepted values of the enumerated keys.
var (
	onUncertainValues = []string{"hold", "retry"}
	logLevels         = []string{"debug", "info", "warn", "error"}
	logFormats        = []string{"auto", "json", "text"}
)

// SocketFileMode returns the permission bits of api.socket_mode, an octal
// number such as "0660" or "0o660" no greater than 0777.
func (a API) SocketFileMode() (fs.FileMode, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(a.SocketMode, "0o"), "0O")
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid socket mode %q (use an octal mode such as 0660)", a.SocketMode)
	}
	if m > 0o777 {
		return 0, fmt.Errorf("socket mode %q is above 0777", a.SocketMode)
	}
	return fs.FileMode(m), nil
}

// Validate checks the configuration as a whole, without touching the file
// system or the network, and returns a *ValidationError listing every
// problem, or nil. Call it after ApplyDefaults: unset values are problems.
func (c *Config) Validate() error {
	v := &validator{src: c.src}
	c.validateAPI(v)
	c.validateClients(v)
	c.validateStore(v)
	c.validatePolicy(v)
	c.validateQueue(v)
	c.validateDrivers(v)
	c.validateRoutes(v)
	if c.Health.Interval.Duration <= 0 {
		v.add("health.interval", "must be positive, got %s", c.Health.Interval)
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		v.add("log.level", "unknown level %q (use %s)", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		v.add("log.format", "unknown format %q (use %s)", c.Log.Format, strings.Join(logFormats, ", "))
	}
	if len(v.problems) > 0 {
		if v.dropped > 0 {
			more := fmt.Sprintf("and %d more problems", v.dropped)
			if v.src != nil {
				more = v.src.name + ": " + more
			}
			v.problems = append(v.problems, more)
		}
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

// validator collects problems, each naming the key path and, when the
// Config was parsed from a file, the file and line.
type validator struct {
	src      *source
	problems []string
	dropped  int
}

func (v *validator) add(path, format string, args ...any) {
	if len(v.problems) >= maxProblems {
		v.dropped++
		return
	}
	msg := path + ": " + fmt.Sprintf(format, args...)
	if v.src != nil {
		if line := v.src.line(path); line > 0 {
			msg = fmt.Sprintf("%s:%d: %s", v.src.name, line, msg)
		} else {
			msg = v.src.name + ": " + msg
		}
	}
	v.problems = append(v.problems, msg)
}

// line returns the line of path, or of its closest enclosing key that was
// written in the file, or 0.
func (s *source) line(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

func positive(v *validator, path string, d Duration) {
	if d.Duration <= 0 {
		v.add(path, "must be positive, got %s", d)
	}
}

func nonNegative(v *validator, path string, d Duration) {
	if d.Duration < 0 {
		v.add(path, "must not be negative, got %s", d)
	}
}

func (c *Config) validateAPI(v *validator) {
	if c.API.Socket == "" {
		v.add("api.socket", "must be set")
	}
	if _, err := c.API.SocketFileMode(); err != nil {
		v.add("api.socket_mode", "%v", err)
	}
	if c.API.MaxBodyBytes <= 0 {
		v.add("api.max_body_bytes", "must be positive, got %d", c.API.MaxBodyBytes)
	}
	positive(v, "api.read_timeout", c.API.ReadTimeout)
	positive(v, "api.write_timeout", c.API.WriteTimeout)
	positive(v, "api.idempotency_ttl", c.API.IdempotencyTTL)
	if c.API.SocketClient != "" && !slices.ContainsFunc(c.Clients, func(cl Client) bool { return cl.Name == c.API.SocketClient }) {
		v.add("api.socket_client", "no client is named %q", c.API.SocketClient)
	}
	lan := c.API.LAN
	for i, addr := range lan.Listen {
		if err := checkListenSyntax(addr); err != nil {
			v.add(fmt.Sprintf("api.lan.listen[%d]", i), "%v", err)
		}
	}
	if _, err := access.ParseAllowList(lan.Allow); err != nil {
		v.add("api.lan.allow", "%v", err)
	}
	if (lan.TLS.CertFile == "") != (lan.TLS.KeyFile == "") {
		v.add("api.lan.tls", "set both cert_file and key_file, or neither")
	}
	if lan.MaxConns < 0 {
		v.add("api.lan.max_conns", "must not be negative, got %d", lan.MaxConns)
	}
	if len(lan.Listen) > 0 && !slices.ContainsFunc(c.Clients, func(cl Client) bool { return cl.TokenSHA256 != "" }) {
		v.add("api.lan.listen", "no client has a token_sha256, so nobody could use the LAN listener; run `smsgw token create --client NAME`")
	}
}

// checkListenSyntax checks a LAN listen address without looking at the
// machine's interfaces: an IP literal and a port, private or unspecified.
// The daemon checks unspecified addresses against the interfaces at start.
func checkListenSyntax(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%q is not ip:port", addr)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q: use an IP address, not a host name", addr)
	}
	if ip.IsUnspecified() {
		return nil
	}
	return access.CheckListen(addr, nil)
}

func (c *Config) validateClients(v *validator) {
	names := map[string]int{}
	uids := map[int]string{}
	gids := map[int]string{}
	tokens := map[string]string{}
	for i, cl := range c.Clients {
		path := fmt.Sprintf("clients[%d]", i)
		switch first, dup := names[cl.Name]; {
		case cl.Name == "":
			v.add(path+".name", "a client needs a name")
		case dup:
			v.add(path+".name", "duplicate client name %q (also clients[%d])", cl.Name, first)
		default:
			names[cl.Name] = i
		}
		claimIDs(v, path+".unix_uids", "uid", cl.Name, cl.UnixUIDs, uids)
		claimIDs(v, path+".unix_gids", "gid", cl.Name, cl.UnixGIDs, gids)
		if t := cl.TokenSHA256; t != "" {
			if b, err := hex.DecodeString(t); err != nil || len(b) != 32 {
				v.add(path+".token_sha256", "must be the 64 hex digits printed by `smsgw token create`")
			} else if other, dup := tokens[strings.ToLower(t)]; dup {
				v.add(path+".token_sha256", "the same token digest belongs to client %q", other)
			} else {
				tokens[strings.ToLower(t)] = cl.Name
			}
		}
		if wh := cl.Webhook; wh.URL != "" || wh.SecretFile != "" {
			wpath := path + ".webhook"
			if u, err := url.Parse(wh.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(wpath+".url", "must be an http or https URL such as http://192.168.1.20:9000/sms")
			}
			if wh.SecretFile == "" {
				v.add(wpath+".secret_file", "a webhook needs a signing secret file")
			}
			if wh.MaxAttempts <= 0 {
				v.add(wpath+".max_attempts", "must be positive, got %d", wh.MaxAttempts)
			}
			positive(v, wpath+".backoff.initial", wh.Backoff.Initial)
			positive(v, wpath+".backoff.max", wh.Backoff.Max)
			positive(v, wpath+".timeout", wh.Timeout)
		}
		for j, p := range cl.Purposes {
			if _, ok := c.Policy.Purposes[p]; !ok {
				v.add(fmt.Sprintf("%s.purposes[%d]", path, j), "unknown purpose %q%s", p, knownList(c.Policy.Purposes))
			}
		}
	}
}

func (c *Config) validateStore(v *validator) {
	if c.Store.Dir == "" {
		v.add("store.dir", "must be set")
	}
	positive(v, "store.retention", c.Store.Retention)
	positive(v, "store.gc_interval", c.Store.GCInterval)
}

func (c *Config) validatePolicy(v *validator) {
	if len(c.Policy.Purposes) == 0 {
		v.add("policy.purposes", "at least one purpose is required")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Purposes)) {
		p := c.Policy.Purposes[name]
		path := "policy.purposes." + name
		positive(v, path+".ttl", p.TTL)
		if len(p.Templates) == 0 && !p.AllowFreeText {
			v.add(path+".templates", "a purpose needs at least one template, or allow_free_text: true")
		}
		if p.MaxSegments < 0 {
			v.add(path+".max_segments", "must not be negative, got %d", p.MaxSegments)
		}
		for i, t := range p.Templates {
			if _, ok := c.Policy.Templates[t]; !ok {
				v.add(fmt.Sprintf("%s.templates[%d]", path, i), "unknown template %q%s", t, knownList(c.Policy.Templates))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Templates)) {
		validateTemplate(v, "policy.templates."+name, c.Policy.Templates[name])
	}
	if r := c.Policy.DefaultRegion; r != "" && !isRegion(r) {
		v.add("policy.default_region", "%q is not an ISO 3166 region code such as FR or DE", r)
	}
	for i, r := range c.Policy.AllowedCountries {
		if !isRegion(r) {
			v.add(fmt.Sprintf("policy.allowed_countries[%d]", i), "%q is not an ISO 3166 region code such as FR or DE", r)
		}
	}
	for _, r := range []struct{ key, name string }{{"stop_reply", c.Policy.OptOut.StopReply}, {"start_reply", c.Policy.OptOut.StartReply}} {
		key, name := r.key, r.name
		if name == "" {
			continue
		}
		t, ok := c.Policy.Templates[name]
		switch {
		case !ok:
			v.add("policy.opt_out."+key, "unknown template %q%s", name, knownList(c.Policy.Templates))
		case len(t.Params) > 0:
			v.add("policy.opt_out."+key, "template %q has params; a reply template must have none", name)
		}
	}
}

// isRegion reports whether s looks like an ISO 3166-1 alpha-2 code in
// upper case. Whether the region exists is for the number library to say.
func isRegion(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// validateTemplate checks that t.Text parses and that the parameters it
// uses are exactly the declared ones.
func validateTemplate(v *validator, path string, t Template) {
	if strings.TrimSpace(t.Text) == "" {
		v.add(path+".text", "a template needs a text")
		return
	}
	used, err := templateFields(t.Text)
	if err != nil {
		v.add(path+".text", "%v", err)
		return
	}
	for _, f := range slices.Sorted(maps.Keys(used)) {
		if _, ok := t.Params[f]; !ok {
			v.add(path+".text", "uses {{.%s}}, which is not declared in params", f)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(t.Params)) {
		if !used[p] {
			v.add(path+".params."+p, "declared but not used in the text")
		}
		if pat := t.Params[p].Pattern; pat != "" {
			if _, err := regexp.Compile(pat); err != nil {
				v.add(path+".params."+p+".pattern", "does not compile: %v", err)
			}
		}
	}
}

// templateFields parses text as a Go template and returns the parameter
// names it uses. Templates are kept to what a short message needs:
// {{.name}}, {{if}} and functions; range, with and nested templates are
// refused because they change what a field refers to.
func templateFields(text string) (map[string]bool, error) {
	tmpl, err := template.New("text").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	if len(tmpl.Templates()) > 1 {
		return nil, fmt.Errorf("nested templates (define, block) are not supported")
	}
	used := map[string]bool{}
	if tmpl.Tree == nil {
		return used, nil
	}
	if err := collectFields(tmpl.Tree.Root, used); err != nil {
		return nil, err
	}
	return used, nil
}

func collectFields(n parse.Node, used map[string]bool) error {
	use := func(ident []string) error {
		if len(ident) != 1 {
			return fmt.Errorf("{{.%s}}: parameters are plain text and have no fields", strings.Join(ident, "."))
		}
		used[ident[0]] = true
		return nil
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := collectFields(c, used); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return collectFields(n.Pipe, used)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := collectFields(c, used); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := collectFields(a, used); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		for _, c := range []parse.Node{n.Pipe, n.List, n.ElseList} {
			if err := collectFields(c, used); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		return use(n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 {
			return use(n.Ident[1:])
		}
	case *parse.ChainNode:
		return fmt.Errorf("%s: parameters are plain text and have no fields", n)
	case *parse.DotNode:
		return fmt.Errorf("{{.}} is not allowed; name a parameter, as in {{.code}}")
	case *parse.RangeNode:
		return fmt.Errorf("{{range}} is not supported in templates")
	case *parse.WithNode:
		return fmt.Errorf("{{with}} is not supported in templates")
	case *parse.TemplateNode:
		return fmt.Errorf("{{template}} is not supported in templates")
	}
	return nil
}

func (c *Config) validateQueue(v *validator) {
	q := c.Queue
	if q.MaxAttempts < 1 {
		v.add("queue.max_attempts", "must be at least 1, got %d", q.MaxAttempts)
	}
	positive(v, "queue.backoff.initial", q.Backoff.Initial)
	positive(v, "queue.backoff.max", q.Backoff.Max)
	if q.Backoff.Initial.Duration > q.Backoff.Max.Duration {
		v.add("queue.backoff.initial", "%s is longer than queue.backoff.max (%s)", q.Backoff.Initial, q.Backoff.Max)
	}
	if !slices.Contains(onUncertainValues, q.OnUncertain) {
		v.add("queue.on_uncertain", "unknown value %q (use %s)", q.OnUncertain, strings.Join(onUncertainValues, " or "))
	}
	positive(v, "queue.send_timeout", q.SendTimeout)
}

func (c *Config) validateDrivers(v *validator) {
	if len(c.Drivers) == 0 {
		v.add("drivers", "at least one driver is required")
	}
	names := map[string]int{}
	for i, d := range c.Drivers {
		path := fmt.Sprintf("drivers[%d]", i)
		switch first, dup := names[d.Name]; {
		case d.Name == "":
			v.add(path+".name", "a driver needs a name")
		case dup:
			v.add(path+".name", "duplicate driver name %q (also drivers[%d])", d.Name, first)
		default:
			names[d.Name] = i
		}
		switch t, known := lookupDriverType(driverTypes, d.Type); {
		case known && t.validate != nil:
			t.validate(v, path, &c.Drivers[i])
		case d.Type == "":
			v.add(path+".type", "a driver needs a type (%s)", strings.Join(driverTypeNames(driverTypes), ", "))
		case !known:
			v.add(path+".type", "unknown driver type %q (known: %s)", d.Type, strings.Join(driverTypeNames(driverTypes), ", "))
		}
		if d.Concurrency < 1 {
			v.add(path+".concurrency", "must be at least 1, got %d", d.Concurrency)
		}
		nonNegative(v, path+".pacing.every", d.Pacing.Every)
		nonNegative(v, path+".latency", d.Latency)
		nonNegative(v, path+".delivery_delay", d.DeliveryDelay)
		validateFailures(v, path+".failures", d.Failures)
	}
}

func validateFailures(v *validator, path string, f Failures) {
	probs := []struct {
		key string
		p   float64
	}{
		{"transient", f.Transient},
		{"permanent", f.Permanent},
		{"uncertain", f.Uncertain},
		{"undelivered", f.Undelivered},
	}
	ok := true
	for _, pr := range probs {
		if !(pr.p >= 0 && pr.p <= 1) {
			v.add(path+"."+pr.key, "a probability must be between 0 and 1, got %v", pr.p)
			ok = false
		}
	}
	// Transient, permanent and uncertain are exclusive outcomes of one
	// send; undelivered applies afterwards to the sends that succeeded.
	if sum := f.Transient + f.Permanent + f.Uncertain; ok && sum > 1 {
		v.add(path, "transient + permanent + uncertain must be at most 1, got %v", sum)
	}
}

func (c *Config) validateRoutes(v *validator) {
	drivers := map[string]bool{}
	for _, d := range c.Drivers {
		drivers[d.Name] = true
	}
	routed := map[string]bool{}
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		if len(r.Purposes) == 0 {
			v.add(path+".purposes", "a route needs at least one purpose")
		}
		if len(r.Drivers) == 0 {
			v.add(path+".drivers", "a route needs at least one driver")
		}
		for j, p := range r.Purposes {
			if _, ok := c.Policy.Purposes[p]; !ok {
				v.add(fmt.Sprintf("%s.purposes[%d]", path, j), "unknown purpose %q%s", p, knownList(c.Policy.Purposes))
			}
			routed[p] = true
		}
		for j, d := range r.Drivers {
			if !drivers[d] {
				v.add(fmt.Sprintf("%s.drivers[%d]", path, j), "unknown driver %q%s", d, knownList(drivers))
			}
		}
	}
	if len(c.Drivers) == 0 {
		return
	}
	for _, p := range slices.Sorted(maps.Keys(c.Policy.Purposes)) {
		if !routed[p] {
			v.add("policy.purposes."+p, "no route sends this purpose")
		}
	}
}

// knownList formats the keys of m as " (known: a, b)" for messages.
func knownList[V any](m map[string]V) string {
	const most = 10
	switch {
	case len(m) == 0:
		return " (none defined)"
	case len(m) > most:
		return fmt.Sprintf(" (%d defined)", len(m))
	default:
		return " (known: " + strings.Join(slices.Sorted(maps.Keys(m)), ", ") + ")"
	}
}

// claimIDs records the uids or gids a client lists in owners, reporting
// invalid ones and ones another client already has.
func claimIDs(v *validator, path, kind, client string, ids []int, owners map[int]string) {
	for j, id := range ids {
		p := fmt.Sprintf("%s[%d]", path, j)
		if id < 0 {
			v.add(p, "invalid %s %d", kind, id)
			continue
		}
		if other, dup := owners[id]; dup {
			v.add(p, "%s %d already belongs to client %q", kind, id, other)
			continue
		}
		owners[id] = client
	}
}
