package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"smsgw/daemon/client"
)

const reloadConfig = `
api: {socket: smsgw.sock}
store: {dir: data}
drivers:
  - {name: DRIVER, type: sim, delivery_reports: true}
policy:
  purposes:
    otp: {ttl: 1h, templates: [otp_code]}
  templates:
    otp_code:
      text: "Your code is {{.code}}."
      params: {code: {secret: true}}
`

// TestReloadSwapsDriversAndKeepsTheQueue sends SIGHUP after the technician
// renamed the driver: the new driver sends, the old messages are still
// there; an invalid file is refused and the daemon keeps running.
func TestReloadSwapsDriversAndKeepsTheQueue(t *testing.T) {
	dir := shortTempDir(t)
	cmd, c := startDaemon(t, dir, strings.Replace(reloadConfig, "DRIVER", "phone1", 1))
	ctx := context.Background()
	send := func() *client.Message {
		t.Helper()
		m, _, err := c.Submit(ctx, client.SubmitRequest{To: "+33612345678", Purpose: "otp", Params: map[string]string{"code": "123456"}}, "")
		must(t, err)
		m, err = c.Wait(ctx, m.ID, "delivered")
		must(t, err)
		return m
	}
	first := send()
	if first.Driver != "phone1" {
		t.Fatalf("first message went through %q", first.Driver)
	}
	cfgPath := filepath.Join(dir, "smsgw.yaml")
	must(t, os.WriteFile(cfgPath, []byte(strings.Replace(reloadConfig, "DRIVER", "phone2", 1)), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	waitDevice(t, c, "phone2")
	if second := send(); second.Driver != "phone2" {
		t.Fatalf("after reload the message went through %q", second.Driver)
	}
	if m, err := c.Message(ctx, first.ID); err != nil || m.State != "delivered" {
		t.Fatalf("first message after reload: %v %+v", err, m)
	}

	// An invalid file is refused; the running configuration stays.
	must(t, os.WriteFile(cfgPath, []byte("drivers: [{name: x, type: pigeon}]\n"), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	waitLog(t, dir, "reload refused")
	if logs := daemonLogs(t, dir); !strings.Contains(logs, "pigeon") {
		t.Fatalf("the refusal does not name the problem:\n%s", logs)
	}
	if h, err := c.Health(ctx); err != nil || h.Devices[0].Name != "phone2" {
		t.Fatalf("after a refused reload: %v %+v", err, h)
	}
	send()
	// A valid file is taken again afterwards.
	must(t, os.WriteFile(cfgPath, []byte(strings.Replace(reloadConfig, "DRIVER", "phone3", 1)), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	waitDevice(t, c, "phone3")
}

func daemonLogs(t *testing.T, dir string) string {
	logs, _ := filepath.Glob(filepath.Join(dir, "daemon-*.log"))
	var all string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		all += string(b)
	}
	return all
}

// waitLog polls the daemon's log for text; the deadline guards a hang.
func waitLog(t *testing.T, dir, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(daemonLogs(t, dir), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never logged:\n%s", text, daemonLogs(t, dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDevice polls health until the daemon reports the named device. The
// deadline guards against a hang only.
func waitDevice(t *testing.T, c *client.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := c.Health(context.Background())
		if err == nil && len(h.Devices) == 1 && h.Devices[0].Name == name {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s never appeared: %v %+v", name, err, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
