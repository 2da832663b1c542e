package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"smsgw/daemon/client"
)

// decode parses stdout as exactly one JSON document into v.
func decode(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	if !strings.Contains(stdout, "\n  ") {
		t.Errorf("JSON is not indented:\n%s", stdout)
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout string)
	}{
		{
			name: "messages list",
			args: []string{"messages", "list", "--json"},
			check: func(t *testing.T, stdout string) {
				var l client.MessageList
				decode(t, stdout, &l)
				if len(l.Messages) != 3 || l.Messages[0].ID != idDelivered || l.Messages[0].To != "+336******78" {
					t.Errorf("list %+v", l)
				}
			},
		},
		{
			name: "messages show",
			args: []string{"--json", "messages", "show", idDelivered},
			check: func(t *testing.T, stdout string) {
				var m client.Message
				decode(t, stdout, &m)
				if m.ID != idDelivered || m.State != "delivered" || len(m.Events) != 4 || m.Events[3].Reason != "delivery_report" {
					t.Errorf("message %+v", m)
				}
			},
		},
		{
			name: "dlq list",
			args: []string{"dlq", "list", "--json"},
			check: func(t *testing.T, stdout string) {
				var l client.MessageList
				decode(t, stdout, &l)
				if len(l.Messages) != 1 || l.Messages[0].LastError == nil || l.Messages[0].LastError.Code != "invalid_number" {
					t.Errorf("list %+v", l)
				}
			},
		},
		{
			name: "health",
			args: []string{"health", "--json"},
			check: func(t *testing.T, stdout string) {
				var h client.Health
				decode(t, stdout, &h)
				if h.Status != "ok" || h.Version != "1.2.3" || len(h.Devices) != 2 || h.Devices[1].LastError != "no SIM" {
					t.Errorf("health %+v", h)
				}
			},
		},
		{
			name: "stats",
			args: []string{"stats", "--json"},
			check: func(t *testing.T, stdout string) {
				var s client.Stats
				decode(t, stdout, &s)
				if s.QueueDepth != 1 || s.ByState["held"] != 2 || s.Retries != 4 || s.DeadLetters != 1 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name: "send",
			args: []string{"send", "--json", "--to", "+33612345678", "--purpose", "otp", "--param", "code=123456"},
			check: func(t *testing.T, stdout string) {
				var m client.Message
				decode(t, stdout, &m)
				if m.ID == "" || m.State != "queued" {
					t.Errorf("message %+v", m)
				}
			},
		},
		{
			name: "cancel",
			args: []string{"messages", "cancel", idQueued, "--json"},
			check: func(t *testing.T, stdout string) {
				var m client.Message
				decode(t, stdout, &m)
				if m.ID != idQueued || m.State != "cancelled" {
					t.Errorf("message %+v", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, newFakeAPI().serve(t), tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			tt.check(t, r.stdout)
		})
	}
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantIDs    []string
		wantStderr string
	}{
		{"first page", []string{"messages", "list"}, []string{idDelivered}, "more: --cursor 1 (or --all)\n"},
		{"next page", []string{"messages", "list", "--cursor", "1"}, []string{idQueued}, "more: --cursor 2 (or --all)\n"},
		{"limit", []string{"messages", "list", "--limit", "2"}, []string{idDelivered, idQueued}, "more: --cursor 2 (or --all)\n"},
		{"all pages", []string{"messages", "list", "--all"}, []string{idDelivered, idQueued, idFailed}, ""},
		{"all pages of a filter", []string{"messages", "list", "--all", "--purpose", "otp"}, []string{idDelivered, idFailed}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI()
			f.pageSize = 1
			sock := f.serve(t)

			r := run(t, sock, tt.args...)
			if r.code != 0 || r.stderr != tt.wantStderr {
				t.Fatalf("exit %d, stderr %q, want 0 and %q", r.code, r.stderr, tt.wantStderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")[1:]
			var ids []string
			for _, l := range lines {
				ids = append(ids, strings.Fields(l)[0])
			}
			if strings.Join(ids, " ") != strings.Join(tt.wantIDs, " ") {
				t.Errorf("table rows %q, want ids %q", ids, tt.wantIDs)
			}

			r = run(t, sock, append(tt.args, "--json")...)
			var l client.MessageList
			decode(t, r.stdout, &l)
			ids = nil
			for _, m := range l.Messages {
				ids = append(ids, m.ID)
			}
			if strings.Join(ids, " ") != strings.Join(tt.wantIDs, " ") {
				t.Errorf("JSON ids %q, want %q", ids, tt.wantIDs)
			}
			if wantMore := tt.wantStderr != ""; (l.NextCursor != "") != wantMore {
				t.Errorf("JSON next_cursor %q, want one: %v", l.NextCursor, wantMore)
			}
		})
	}
}

func TestListQuery(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no filter", nil, ""},
		{"rfc3339", []string{"--since", "2026-03-01T10:00:00+01:00", "--until", "2026-03-02T00:00:00Z"}, "since=2026-03-01T09%3A00%3A00Z&until=2026-03-02T00%3A00%3A00Z"},
		// The test clock says 2026-03-01 11:00 UTC.
		{"duration ago", []string{"--since", "2h"}, "since=2026-03-01T09%3A00%3A00Z"},
		{"all filters", []string{"--status", "failed,unknown", "--purpose", "otp", "--to", "+33612345678", "--limit", "10", "--cursor", "c"},
			"cursor=c&limit=10&purpose=otp&status=failed%2Cunknown&to=%2B33612345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI()
			r := run(t, f.serve(t), append([]string{"messages", "list"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if f.lastQuery != tt.want {
				t.Errorf("query %q, want %q", f.lastQuery, tt.want)
			}
		})
	}
}

func TestSend(t *testing.T) {
	base := []string{"send", "--to", "+33612345678", "--purpose", "otp", "--param", "code=123456"}
	tests := []struct {
		name       string
		args       []string
		next       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		notStderr  []string
	}{
		{
			name:       "queued",
			args:       base,
			wantStdout: []string{"01HQ0000000000000000000103 queued\n"},
		},
		{
			name:       "wait until delivered",
			args:       append(base, "--wait"),
			next:       []string{"sending", "sent", "delivered"},
			wantStdout: []string{"01HQ0000000000000000000103 queued\n", "01HQ0000000000000000000103 delivered\n"},
		},
		{
			name:       "wait for sent",
			args:       append(base, "--wait-for", "sent"),
			next:       []string{"sending", "sent", "delivered"},
			wantStdout: []string{"01HQ0000000000000000000103 queued\n", "01HQ0000000000000000000103 sent\n"},
		},
		{
			name:       "sent is reached by delivered",
			args:       append(base, "--wait-for", "sent"),
			next:       []string{"delivered"},
			wantStdout: []string{"01HQ0000000000000000000103 delivered\n"},
		},
		{
			name:       "fails",
			args:       append(base, "--wait"),
			next:       []string{"sending", "failed"},
			wantCode:   1,
			wantStdout: []string{"01HQ0000000000000000000103 failed\n"},
			wantStderr: []string{"error: message 01HQ0000000000000000000103 ended failed, not delivered\n"},
		},
		{
			name:       "held as unknown",
			args:       append(base, "--wait"),
			next:       []string{"sending", "unknown"},
			wantCode:   1,
			wantStdout: []string{"01HQ0000000000000000000103 unknown\n"},
			wantStderr: []string{"ended unknown, not delivered"},
		},
		{
			name:       "expired",
			args:       append(base, "--wait"),
			next:       []string{"expired"},
			wantCode:   1,
			wantStderr: []string{"ended expired, not delivered"},
		},
		{
			name:       "times out",
			args:       append(base, "--wait", "--timeout", "120ms"),
			wantCode:   1,
			wantStdout: []string{"01HQ0000000000000000000103 queued\n01HQ0000000000000000000103 queued\n"},
			wantStderr: []string{"error: gave up after 120ms waiting for delivered", "still queued"},
		},
		{
			name:       "refused",
			args:       []string{"send", "--to", "0612", "--purpose", "spam"},
			wantCode:   1,
			wantStderr: []string{"error: the message was refused (invalid_message)\n  to: use E.164, like +33612345678 (invalid_number)\n  purpose: known purposes: otp (unknown_purpose)\n"},
		},
		{
			name:       "replayed",
			args:       append(base, "--idempotency-key", "order-7"),
			wantStdout: []string{"01HQ0000000000000000000103 queued\n"},
			notStderr:  []string{"note"},
		},
		{name: "missing recipient", args: []string{"send", "--purpose", "otp"}, wantCode: 2, wantStderr: []string{"send needs --to and --purpose"}},
		{name: "bad param", args: append(base, "--param", "code"), wantCode: 2, wantStderr: []string{`--param "code": use NAME=VALUE`}},
		{name: "bad wait state", args: append(base, "--wait-for", "done"), wantCode: 2, wantStderr: []string{`cannot wait for "done"`}},
		{name: "bad ttl", args: append(base, "--ttl", "soon"), wantCode: 2, wantStderr: []string{"--ttl"}},
		{name: "unknown flag", args: append(base, "--urgent"), wantCode: 2, wantStderr: []string{"unknown flag: --urgent", "Run 'smsgw send --help' for usage."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI()
			f.nextForNew = tt.next
			r := run(t, f.serve(t), tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout %q lacks %q", r.stdout, s)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q lacks %q", r.stderr, s)
				}
			}
			for _, s := range tt.notStderr {
				if strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q has %q", r.stderr, s)
				}
			}
		})
	}
}

func TestSendRequest(t *testing.T) {
	f := newFakeAPI()
	r := run(t, f.serve(t), "send", "--to", "+33612345678", "--purpose", "otp", "--template", "otp_code",
		"--param", "code=123456", "--param", "note=a=b", "--ttl", "2m")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := f.lastSubmit
	if got.To != "+33612345678" || got.Purpose != "otp" || got.Template != "otp_code" || got.TTL != "2m0s" ||
		len(got.Params) != 2 || got.Params["code"] != "123456" || got.Params["note"] != "a=b" {
		t.Errorf("submitted %+v", got)
	}
}

func TestSendFreeText(t *testing.T) {
	f := newFakeAPI()
	r := run(t, f.serve(t), "send", "--to", "+33612345678", "--purpose", "otp", "--text", "Your parcel is at the desk.")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := f.lastSubmit; got.Text != "Your parcel is at the desk." || got.Template != "" || len(got.Params) != 0 {
		t.Errorf("submitted %+v", got)
	}
}

func TestSendReplay(t *testing.T) {
	f := newFakeAPI()
	sock := f.serve(t)
	args := []string{"send", "--to", "+33612345678", "--purpose", "otp", "--idempotency-key", "order-7"}
	first := run(t, sock, args...)
	second := run(t, sock, args...)
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exits %d, %d: %s %s", first.code, second.code, first.stderr, second.stderr)
	}
	if first.stdout != second.stdout {
		t.Errorf("replay printed %q, first send %q", second.stdout, first.stdout)
	}
	if !strings.Contains(second.stderr, `note: the idempotency key "order-7" was used before`) {
		t.Errorf("replay stderr %q lacks the note", second.stderr)
	}
}

func TestSendWaitJSON(t *testing.T) {
	f := newFakeAPI()
	f.nextForNew = []string{"sending", "sent", "delivered"}
	r := run(t, f.serve(t), "send", "--to", "+33612345678", "--purpose", "otp", "--wait", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var m client.Message
	decode(t, r.stdout, &m)
	if m.State != "delivered" {
		t.Errorf("state %q, want delivered", m.State)
	}
}

func TestMessageActions(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		next       map[string][]string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "cancel queued", args: []string{"messages", "cancel", idQueued}, wantStdout: idQueued + " cancelled\n"},
		{name: "cancel delivered", args: []string{"messages", "cancel", idDelivered}, wantCode: 1,
			wantStderr: "error: message is delivered, only queued messages can be cancelled (not_cancellable)\n"},
		{name: "requeue", args: []string{"dlq", "requeue", idFailed}, wantStdout: idFailed + " queued\n"},
		{name: "requeue live message", args: []string{"dlq", "requeue", idQueued}, wantCode: 1,
			wantStderr: "error: no message " + idQueued + " (message_not_found)\n"},
		{name: "show missing", args: []string{"messages", "show", "01NOPE"}, wantCode: 1,
			wantStderr: "error: no message 01NOPE (message_not_found)\n"},
		{name: "wait", args: []string{"messages", "wait", idQueued}, next: map[string][]string{idQueued: {"sending", "delivered"}},
			wantStdout: idQueued + " delivered\n"},
		{name: "wait for sent", args: []string{"messages", "wait", idQueued, "--for", "sent"}, next: map[string][]string{idQueued: {"sending", "sent"}},
			wantStdout: idQueued + " sent\n"},
		{name: "wait on a failed one", args: []string{"messages", "wait", idFailed}, wantCode: 1,
			wantStdout: idFailed + " failed (permanent invalid_number: rejected by the network)\n",
			wantStderr: "error: message " + idFailed + " ended failed, not delivered\n"},
		{name: "wait without id", args: []string{"messages", "wait"}, wantCode: 2,
			wantStderr: "smsgw: accepts 1 arg(s), received 0\nRun 'smsgw messages wait --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI()
			for id, states := range tt.next {
				f.next[id] = states
			}
			r := run(t, f.serve(t), tt.args...)
			if r.code != tt.wantCode || r.stdout != tt.wantStdout || r.stderr != tt.wantStderr {
				t.Errorf("got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
					r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestHealthDown(t *testing.T) {
	for _, args := range [][]string{{"health"}, {"health", "--json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFakeAPI()
			f.health.Status = "down"
			r := run(t, f.serve(t), args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !strings.Contains(r.stdout, "down") {
				t.Errorf("stdout %q does not show the status", r.stdout)
			}
			if r.stderr != "error: smsgw is down\n" {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
}

func TestHealthDegradedIsOK(t *testing.T) {
	f := newFakeAPI()
	f.health.Status = "degraded"
	if r := run(t, f.serve(t), "health"); r.code != 0 {
		t.Errorf("exit %d for a degraded daemon, want 0", r.code)
	}
}

// shortDir returns a temporary directory with a path short enough for a
// Unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "smsgw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodConfig = `api:
  socket: from-config.sock
policy:
  purposes:
    otp: {ttl: 5m, templates: [otp_code]}
    reminder: {ttl: 12h, templates: [otp_code]}
  templates:
    otp_code:
      text: "Your code is {{.code}}."
      params:
        code: {secret: true}
drivers:
  - {name: sim, type: sim}
`

func TestSocketResolution(t *testing.T) {
	wd := shortDir(t)
	cfg := writeFile(t, wd, "smsgw.yaml", goodConfig)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag wins", map[string]string{"SMSGW_SOCKET": "/run/env.sock"}, []string{"--socket", "/run/flag.sock", "--config", cfg}, "/run/flag.sock"},
		{"environment", map[string]string{"SMSGW_SOCKET": "/run/env.sock"}, []string{"--config", cfg}, "/run/env.sock"},
		{"config file", nil, []string{"--config", cfg}, filepath.Join(wd, "from-config.sock")},
		{"embedded default", nil, nil, filepath.Join(wd, "smsgw.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, out, errb := testApp(tt.env, wd)
			code := a.main(context.Background(), append(tt.args, "stats"))
			want := "error: smsgw is not running (no socket at " + tt.want + "); start it with `smsgw run`\n"
			if code != 1 || errb.String() != want || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, stderr %q", code, out, errb, want)
			}
		})
	}
}

func TestSocketFound(t *testing.T) {
	wd := shortDir(t)
	f := newFakeAPI()
	sock := f.serve(t)
	a, out, errb := testApp(map[string]string{"SMSGW_SOCKET": sock}, wd)
	if code := a.main(context.Background(), []string{"stats", "--json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var s client.Stats
	decode(t, out.String(), &s)
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", goodConfig)
	unknownKey := writeFile(t, dir, "unknown.yaml", "api:\n  sockit: x.sock\ndrivers:\n  - {name: sim, type: sim}\n")
	invalid := writeFile(t, dir, "invalid.yaml", `queue:
  on_uncertain: maybe
policy:
  purposes:
    otp: {ttl: 5m, templates: [nope]}
drivers:
  - {name: sim, type: sim}
`)
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		name       string
		file       string
		wantCode   int
		wantStdout string
		// wantLines must each appear as a whole line of stderr.
		wantLines []string
	}{
		{name: "good", file: good, wantStdout: good + ": OK (1 drivers, 2 purposes)\n"},
		{name: "unknown key", file: unknownKey, wantCode: 1, wantLines: []string{unknownKey + `:2: unknown key "sockit" in api (did you mean "socket"?)`}},
		{name: "invalid values", file: invalid, wantCode: 1, wantLines: []string{
			invalid + `:2: queue.on_uncertain: unknown value "maybe" (use hold or retry)`,
			invalid + `:5: policy.purposes.otp.templates[0]: unknown template "nope" (none defined)`,
		}},
		{name: "missing", file: missing, wantCode: 1, wantLines: []string{"read configuration: open " + missing + ": no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "/nonexistent.sock", "config", "check", tt.file)
			if r.code != tt.wantCode || r.stdout != tt.wantStdout {
				t.Errorf("exit %d, stdout %q; want %d, %q", r.code, r.stdout, tt.wantCode, tt.wantStdout)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(tt.wantLines) == 0 && r.stderr != "" {
				t.Errorf("stderr %q, want nothing", r.stderr)
			}
			if len(tt.wantLines) > 0 && len(lines) != len(tt.wantLines) {
				t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), len(tt.wantLines), r.stderr)
			}
			for _, want := range tt.wantLines {
				found := false
				for _, l := range lines {
					found = found || l == want
				}
				if !found {
					t.Errorf("stderr lacks the line %q:\n%s", want, r.stderr)
				}
			}

			r = run(t, "/nonexistent.sock", "config", "check", tt.file, "--json")
			var res checkResult
			decode(t, r.stdout, &res)
			if res.OK != (tt.wantCode == 0) || len(res.Problems) != len(tt.wantLines) || r.code != tt.wantCode {
				t.Errorf("--json: exit %d, %+v", r.code, res)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	bad := writeFile(t, t.TempDir(), "bad.yaml", "log:\n  format: xml\ndrivers:\n  - {name: sim, type: sim}\n")
	r := run(t, "/nonexistent.sock", "run", "--config", bad)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, "xml") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the bad format", r.code, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate" for "smsgw"`},
		{name: "no command", args: nil, wantCode: 2, wantStderr: `"smsgw" needs a command`},
		{name: "group without command", args: []string{"messages"}, wantCode: 2, wantStderr: `"smsgw messages" needs a command: cancel, list, show, wait`},
		{name: "group with unknown command", args: []string{"dlq", "purge"}, wantCode: 2, wantStderr: `unknown command "purge" for "smsgw dlq"`},
		{name: "unknown global flag", args: []string{"--verbose", "stats"}, wantCode: 2, wantStderr: "unknown flag: --verbose"},
		{name: "extra argument", args: []string{"stats", "now"}, wantCode: 2, wantStderr: `unknown command "now" for "smsgw stats"`},
		{name: "bad since", args: []string{"messages", "list", "--since", "yesterday"}, wantCode: 2, wantStderr: `--since "yesterday"`},
		{name: "negative limit", args: []string{"dlq", "list", "--limit", "-1"}, wantCode: 2, wantStderr: "--limit must not be negative"},
		{name: "config check without file", args: []string{"config", "check"}, wantCode: 2, wantStderr: "accepts 1 arg(s)"},
		{name: "help", args: []string{"--help"}, wantStdout: "send        Submit a message"},
		{name: "command help", args: []string{"messages", "list", "--help"}, wantStdout: "--status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "/nonexistent.sock", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
			if tt.wantCode == 2 && !strings.Contains(r.stderr, "--help' for usage.") {
				t.Errorf("usage error without a hint: %q", r.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "/nonexistent.sock", "version")
	want := "smsgw " + Version + " (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout %q; want %q", r.code, r.stdout, want)
	}
	r = run(t, "/nonexistent.sock", "version", "--json")
	var v versionInfo
	decode(t, r.stdout, &v)
	if v.Version != Version || v.Go != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH {
		t.Errorf("version %+v", v)
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"version"}, 0},
		{[]string{"--socket", "/nonexistent.sock", "health"}, 1},
		{[]string{"frobnicate"}, 2},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if got := Main(tt.args, strings.NewReader(""), &out, &errb); got != tt.want {
			t.Errorf("Main(%q) = %d, want %d (stderr %q)", tt.args, got, tt.want, errb.String())
		}
	}
}

func TestReached(t *testing.T) {
	tests := []struct {
		target, state string
		want          bool
	}{
		{"delivered", "delivered", true},
		{"delivered", "sent", false},
		{"delivered", "failed", false},
		{"delivered", "unknown", false},
		{"sent", "delivered", true},
		{"sending", "sent", true},
		{"sent", "cancelled", false},
		{"cancelled", "cancelled", true},
		{"failed", "delivered", false},
	}
	for _, tt := range tests {
		if got := reached(tt.target, tt.state); got != tt.want {
			t.Errorf("reached(%q, %q) = %v, want %v", tt.target, tt.state, got, tt.want)
		}
	}
}
