package smsservice

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/smsservice/phoneapp"
)

func outbound(id string) *drivers.Outbound {
	return &drivers.Outbound{ID: id, To: "+33612345678", Text: "Your code is 123456",
		Segments: drivers.SegmentPlan{Encoding: drivers.GSM7, Parts: []string{"Your code is 123456"}}, ExpiresAt: time.Now().Add(time.Hour), Attempt: 1}
}

func classOf(t *testing.T, err error) *drivers.Error {
	t.Helper()
	var de *drivers.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *drivers.Error", err, err)
	}
	return de
}

// TestSendErrorMapping checks how each answer of the app is classified.
func TestSendErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		faults     []phoneapp.Fault
		wantOK     bool
		class      drivers.Class
		code       string
		retryAfter time.Duration
		received   int
	}{
		{name: "accepted", wantOK: true, received: 1},
		{name: "unauthorized", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 401}}, class: drivers.ClassPermanent, code: CodeUnauthorized},
		{name: "forbidden", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 403}}, class: drivers.ClassPermanent, code: CodeUnauthorized},
		{name: "validation", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 400, Body: `{"message":"text is empty"}`}}, class: drivers.ClassPermanent, code: CodeRejected},
		{name: "too many", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 429, RetryAfter: "30"}}, class: drivers.ClassTransient, code: CodeBusy, retryAfter: 30 * time.Second},
		{name: "unavailable", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 503, RetryAfter: "5"}}, class: drivers.ClassTransient, code: CodeUnavailable, retryAfter: 5 * time.Second},
		// A 500 may come after the app stored the message: the lookup decides.
		{name: "500 not stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 500}}, class: drivers.ClassTransient, code: CodeAppError},
		{name: "500 stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Status: 500, Store: true}}, wantOK: true, received: 1},
		// Connection dropped after the request was written.
		{name: "dropped, not stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Drop: true}}, class: drivers.ClassTransient, code: CodeConnLost},
		{name: "dropped, stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Drop: true, Store: true}}, wantOK: true, received: 1},
		{name: "dropped, lookup fails", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Drop: true, Store: true}, {Method: "GET", Path: "/message/", Status: 502}},
			class: drivers.ClassUncertain, code: CodeConnLost, received: 1},
		// A slow answer: the request times out after it was written.
		{name: "slow, stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Stall: true, Store: true}}, wantOK: true, received: 1},
		{name: "slow, not stored", faults: []phoneapp.Fault{{Method: "POST", Path: "/message", Stall: true}}, class: drivers.ClassTransient, code: CodeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, srv := startApp(t, phoneapp.Options{})
			for _, f := range tt.faults {
				app.Inject(f)
			}
			d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour, RequestTimeout: 200 * time.Millisecond})
			defer d.Close()
			m := outbound("01JTEST" + tt.name)
			r, err := d.Send(context.Background(), m)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if r.Ref != AppID(m.ID) {
					t.Errorf("Ref = %q, want %q", r.Ref, AppID(m.ID))
				}
			} else {
				de := classOf(t, err)
				if de.Class != tt.class || de.Code != tt.code {
					t.Errorf("got %s/%s, want %s/%s (%v)", de.Class, de.Code, tt.class, tt.code, err)
				}
				if de.RetryAfter != tt.retryAfter {
					t.Errorf("RetryAfter = %v, want %v", de.RetryAfter, tt.retryAfter)
				}
			}
			if n := app.Received(AppID(m.ID)); n != tt.received {
				t.Errorf("app received %d, want %d", n, tt.received)
			}
		})
	}
}

func TestSendErrorDetails(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{})
	d := newDriver(t, Options{BaseURL: srv.URL, PollInterval: time.Hour})
	defer d.Close()
	app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Status: 401})
	_, err := d.Send(context.Background(), outbound("01JDETAIL1"))
	if de := classOf(t, err); !strings.Contains(de.Detail, "check username and password_file") {
		t.Errorf("unauthorized detail %q does not say what to check", de.Detail)
	}
	app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Status: 400, Body: `{"message":"Invalid phone number +33612345678"}`})
	_, err = d.Send(context.Background(), outbound("01JDETAIL2"))
	de := classOf(t, err)
	if !strings.Contains(de.Detail, "Invalid phone number") || strings.Contains(de.Detail, "12345678") {
		t.Errorf("validation detail %q: want the app's message with the number masked", de.Detail)
	}
}

// TestUnreachable: nothing listens, so nothing was written: transient.
func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	d := newDriver(t, Options{BaseURL: url, PollInterval: time.Hour})
	defer d.Close()
	_, err := d.Send(context.Background(), outbound("01JUNREACH"))
	if de := classOf(t, err); de.Class != drivers.ClassTransient || de.Code != CodeUnreachable {
		t.Errorf("got %s/%s, want transient/%s", de.Class, de.Code, CodeUnreachable)
	}
	h, err := d.Health(context.Background())
	if err != nil || h.State != drivers.StateDown {
		t.Errorf("Health = %+v, %v; want down", h, err)
	}
	dg := d.Diagnose(context.Background())
	if dg.OK || len(dg.Checks) == 0 || dg.Checks[0].Status != drivers.CheckFail || dg.Checks[0].Fix == "" {
		t.Errorf("Diagnose = %+v; want a failed reachability check with a fix", dg)
	}
}

// TestDuplicateHandoff: a message sent again after a lost reply is
// recognised by its id (409, then a lookup) and not sent twice.
func TestDuplicateHandoff(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{Manual: true})
	d := newDriver(t, Options{BaseURL: srv.URL, PollInterval: time.Hour, DeliveryReports: true})
	defer d.Close()
	m := outbound("01JDUPLICATE")
	for range 2 {
		if _, err := d.Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if n, p := app.Received(m.ID), app.Posts(m.ID); n != 1 || p != 2 {
		t.Errorf("received %d of %d posts, want 1 of 2", n, p)
	}
}

func TestAuthAndHealth(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{Username: "sms", Password: "secret-pass", Battery: 20, NotCharging: true})
	_ = app
	tests := []struct {
		name   string
		opts   Options
		wantOK bool
	}{
		{"basic", Options{Username: "sms", Password: "secret-pass"}, true},
		{"wrong password", Options{Username: "sms", Password: "nope"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.BaseURL, o.PollInterval = srv.URL, time.Hour
			d := newDriver(t, o)
			defer d.Close()
			_, err := d.Send(context.Background(), outbound("01JAUTH"+tt.name))
			if (err == nil) != tt.wantOK {
				t.Fatalf("Send error %v, want ok=%v", err, tt.wantOK)
			}
			dg := d.Diagnose(context.Background())
			if dg.OK != tt.wantOK {
				t.Errorf("Diagnose OK = %v, want %v: %+v", dg.OK, tt.wantOK, dg)
			}
			h, err := d.Health(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if h.State != drivers.StateDegraded || h.Battery == nil || h.Battery.Percent != 20 || h.Battery.Charging {
				t.Errorf("Health = %+v, want degraded with battery 20%% not charging", h)
			}
		})
	}
}
