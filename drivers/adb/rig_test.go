package adb

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire/adbtest"
	"smsgw/drivers/smsservice"
	"smsgw/drivers/smsservice/phoneapp"
)

// guard bounds waits in these tests; it only turns a hang into a failure.
const guard = 20 * time.Second

const serial = "R58M123456"

// rig is an in-process adb server with one simulated phone.
type rig struct {
	srv   *adbtest.Server
	phone *fakePhone
	app   *phoneapp.App
}

// newRig starts the fake server and a phone of the given fixtures. Phones
// before Android 7 do not offer shell v2.
func newRig(t *testing.T, version string, sdk int) *rig {
	t.Helper()
	srv, err := adbtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := newFakePhone(t, version, sdk)
	features := []string{"cmd", "stat_v2"}
	if sdk >= 24 {
		features = append(features, "shell_v2")
	}
	srv.SetDevice(serial, "device", features, p)
	return &rig{srv: srv, phone: p}
}

// withApp serves a simulated gateway app on the phone's port 8080.
func (r *rig) withApp(t *testing.T) *phoneapp.App {
	t.Helper()
	app := phoneapp.New(phoneapp.Options{})
	hs := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		app.Close()
		hs.Close()
	})
	r.phone.mu.Lock()
	r.phone.appAddr = hs.Listener.Addr().String()
	r.phone.mu.Unlock()
	r.app = app
	return app
}

// options returns driver options for mode on this rig.
func (r *rig) options(mode Mode) Options {
	return r.optionsFor(r.srv.Addr(), serial, mode)
}

// optionsFor returns driver options for mode, for a phone at server.
func (r *rig) optionsFor(server, serial string, mode Mode) Options {
	o := Options{
		Serial:       serial,
		Mode:         mode,
		Server:       server,
		RemotePort:   8080,
		AppPackage:   "me.capcom.smsgateway",
		Pacing:       Pacing{Count: 30, Window: 30 * time.Minute},
		PollInterval: 20 * time.Millisecond,
	}
	if mode == ModeForward {
		o.Gateway = func(baseURL string) (Gateway, error) {
			return smsservice.New("usb", smsservice.Options{Dialect: smsservice.DialectSMSGate, BaseURL: baseURL,
				DeliveryReports: true, PollInterval: time.Hour, RequestTimeout: 5 * time.Second}, nil)
		}
	}
	return o
}

func (r *rig) open(t *testing.T, o Options) drivers.Driver {
	t.Helper()
	d, err := New("usb", o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func message(id, to, text string) *drivers.Outbound {
	return &drivers.Outbound{
		ID: id, To: to, Text: text,
		Segments:  drivers.SegmentPlan{Encoding: drivers.GSM7, Parts: []string{text}},
		ExpiresAt: time.Now().Add(time.Hour), Attempt: 1,
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, failing after the hang guard.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within the hang guard", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func classOf(t *testing.T, err error) *drivers.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got a nil error, want a classified one")
	}
	de := drivers.Classify(err)
	return de
}
