package adb

import (
	"net/http/httptest"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/smsservice/phoneapp"
)

// TestForwardAppDownIsTransient: the phone is ready and the forward is in
// place, but the gateway app is not running. adb accepts the TCP connection
// on the forward and closes it when the phone refuses, so a request would
// count as written and the send as uncertain (held for review) though
// nothing can have reached an app that is not there. The phone is not ready
// until the app answers: the send fails as transient, app_unreachable.
func TestForwardAppDownIsTransient(t *testing.T) {
	r := newRig(t, "android14", 34) // no app on the phone's port 8080
	d := r.open(t, r.options(ModeForward))
	_, err := d.Send(testCtx(t), message("01NOAPP", "+32470123456", "hi"))
	de := drivers.Classify(err)
	if de == nil || de.Class != drivers.ClassTransient || de.Code != CodeAppUnreachable {
		t.Errorf("app not running: Send = %v; want transient %s (nothing was sent)", err, CodeAppUnreachable)
	}
}

// TestForwardAppStopsThenReturns: the app stops after the phone was ready.
// The send that finds it gone may be uncertain (the request may have been
// written before the drop) or transient (the monitor noticed first); the
// sends after it are transient app_unreachable and write nothing, until the
// app is back.
func TestForwardAppStopsThenReturns(t *testing.T) {
	r := newRig(t, "android14", 34)
	app := phoneapp.New(phoneapp.Options{})
	t.Cleanup(func() { app.Close() })
	serve := func() *httptest.Server {
		hs := httptest.NewServer(app.Handler())
		r.phone.mu.Lock()
		r.phone.appAddr = hs.Listener.Addr().String()
		r.phone.mu.Unlock()
		return hs
	}
	hs := serve()
	o := r.options(ModeForward)
	o.PollInterval = time.Hour // no monitor pass: the failed send itself must cause the re-check
	d := r.open(t, o)
	if _, err := d.Send(testCtx(t), message("01UP", "+32470123456", "hi")); err != nil {
		t.Fatalf("Send with the app up: %v", err)
	}
	// The app stops: its connections drop and its port refuses.
	r.phone.mu.Lock()
	r.phone.appAddr = ""
	r.phone.mu.Unlock()
	hs.CloseClientConnections()
	hs.Close()

	_, err := d.Send(testCtx(t), message("01GONE", "+32470123456", "hi"))
	if de := classOf(t, err); de.Class == drivers.ClassPermanent {
		t.Fatalf("app gone: Send = %v; want uncertain or transient", err)
	}
	for _, id := range []string{"01DOWN1", "01DOWN2"} {
		_, err := d.Send(testCtx(t), message(id, "+32470123456", "hi"))
		if de := classOf(t, err); de.Class != drivers.ClassTransient || de.Code != CodeAppUnreachable {
			t.Errorf("app down: Send(%s) = %v; want transient %s", id, err, CodeAppUnreachable)
		}
	}

	hs = serve()
	t.Cleanup(hs.Close)
	if _, err := d.Send(testCtx(t), message("01BACK", "+32470123456", "hi")); err != nil {
		t.Errorf("Send once the app is back: %v", err)
	}
}
