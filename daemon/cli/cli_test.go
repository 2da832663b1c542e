package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// result is what one command line printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// testApp returns an app with a fixed clock, times shown in UTC, and the
// given environment and working directory.
func testApp(env map[string]string, wd string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return env[k] },
		getwd:  func() (string, error) { return wd, nil },
		now:    func() time.Time { return t0.Add(time.Hour) },
		loc:    time.UTC,
	}
	return a, &out, &errb
}

// run runs the command line against the daemon at socket.
func run(t *testing.T, socket string, args ...string) result {
	t.Helper()
	a, out, errb := testApp(nil, t.TempDir())
	code := a.main(context.Background(), append([]string{"--socket", socket}, args...))
	return result{out.String(), errb.String(), code}
}

func TestTables(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "messages list",
			args: []string{"messages", "list"},
			want: `ID                          STATE      TO             PURPOSE   ATTEMPTS  CREATED              UPDATED
01HQ0000000000000000000001  delivered  +336******78   otp       1/5       2026-03-01 10:00:00  2026-03-01 10:00:02
01HQ0000000000000000000002  queued     +447*******23  reminder  0/5       2026-03-01 10:01:00  2026-03-01 10:01:00
01HQ0000000000000000000003  failed     +336******11   otp       5/5       2026-03-01 10:02:00  2026-03-01 10:07:00
`,
		},
		{
			name: "messages list filtered",
			args: []string{"messages", "list", "--status", "queued,failed", "--purpose", "otp"},
			want: `ID                          STATE   TO            PURPOSE  ATTEMPTS  CREATED              UPDATED
01HQ0000000000000000000003  failed  +336******11  otp      5/5       2026-03-01 10:02:00  2026-03-01 10:07:00
`,
		},
		{
			name: "dlq list",
			args: []string{"dlq", "list"},
			want: `ID                          STATE   TO            PURPOSE  ATTEMPTS  CREATED              UPDATED
01HQ0000000000000000000003  failed  +336******11  otp      5/5       2026-03-01 10:02:00  2026-03-01 10:07:00
`,
		},
		{
			name: "messages show",
			args: []string{"messages", "show", idDelivered},
			want: `ID:            01HQ0000000000000000000001
State:         delivered
To:            +336******78
Client:        shop
Purpose:       otp
Template:      otp_code
Params:        -
Attempts:      1/5
Parts:         1 gsm7
Driver:        sim (ref sim-1)
Last error:    -
Created:       2026-03-01 10:00:00
Updated:       2026-03-01 10:00:02
Expires:       2026-03-01 10:05:00
Next attempt:  -

SEQ  AT                   FROM     TO         DRIVER  REASON           DETAIL
1    2026-03-01 10:00:00  -        queued     -       submitted        -
2    2026-03-01 10:00:01  queued   sending    sim     leased           -
3    2026-03-01 10:00:01  sending  sent       sim     accepted         -
4    2026-03-01 10:00:02  sent     delivered  sim     delivery_report  -
`,
		},
		{
			name: "messages show without events",
			args: []string{"messages", "show", idFailed},
			want: `ID:            01HQ0000000000000000000003
State:         failed
To:            +336******11
Client:        shop
Purpose:       otp
Template:      otp_code
Params:        -
Attempts:      5/5
Parts:         -
Driver:        sim
Last error:    permanent invalid_number: rejected by the network
Created:       2026-03-01 10:02:00
Updated:       2026-03-01 10:07:00
Expires:       2026-03-01 10:07:00
Next attempt:  -

No events.
`,
		},
		{
			name: "health",
			args: []string{"health"},
			want: `status:   ok
version:  1.2.3
uptime:   1h2m3s

DEVICE  TYPE   STATE  DETAIL        LAST ERROR  CHECKED
sim     sim    ok     battery 100%  -           2026-03-01 10:00:00
modem   modem  down   -             no SIM      2026-03-01 10:00:00
`,
		},
		{
			name: "stats",
			args: []string{"stats"},
			want: `queue depth:    1
oldest queued:  42s
retries:        4
dead letters:   1

STATE      COUNT
queued     1
delivered  1
failed     1
held       2
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, newFakeAPI().serve(t), tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.want)
			}
		})
	}
}
