package modemsim_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/drivers"
	"smsgw/drivers/builtin"
	"smsgw/drivers/modem/modemsim"
)

// TestSerialPortOverPTY drives the simulated modem through the real serial
// port code path: builtin.Open opens the pty with go.bug.st/serial. The
// modem is then unplugged and plugged back at the same path.
func TestSerialPortOverPTY(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	link := filepath.Join(t.TempDir(), "usb-SimModem-if00")
	p, err := m.OpenPTY(link)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer p.Close()
	on := false
	cfg := config.Driver{Name: "pty", Type: "modem", Modem: &config.ModemOptions{
		Port: link, Baud: 115200, DeliveryReports: &on,
		CommandTimeout: config.Duration{Duration: 2 * time.Second},
		SendTimeout:    config.Duration{Duration: 30 * time.Second},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := builtin.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	send := func(id string) {
		t.Helper()
		r, err := d.Send(ctx, &drivers.Outbound{ID: id, To: "+33612345678", Text: "Your code is 123456", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatalf("Send %s: %v", id, err)
		}
		if r.Parts != 1 || r.Ref == "" {
			t.Errorf("receipt = %+v", r)
		}
	}
	send("before")
	if got := m.Sent(); len(got) != 1 || got[0].Info.Text != "Your code is 123456" || got[0].Info.To != "+33612345678" {
		t.Fatalf("modem got %+v", got)
	}

	p.Unplug()
	reconnected := m.Connected()
	if err := p.Replug(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("driver did not reopen the replugged modem (hang guard)")
	}
	for {
		h, _ := d.(drivers.HealthChecker).Health(ctx)
		if h.State == drivers.StateReady {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not ready after replug: %+v", h)
		}
		time.Sleep(10 * time.Millisecond)
	}
	send("after")
	if n := len(m.Sent()); n != 2 {
		t.Errorf("modem sent %d messages, want 2", n)
	}
}
