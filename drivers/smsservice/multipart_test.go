package smsservice

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/smsservice/phoneapp"
)

// waitHooks waits until the app's webhooks all point at d's receiver.
func waitHooks(t *testing.T, app *phoneapp.App, d *Driver) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		hooks := app.Webhooks()
		ok := len(hooks) == len(HookEvents)
		for _, h := range hooks {
			ok = ok && h.URL == d.hooks.url
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks not registered for the new driver: %+v", hooks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noEvent fails if d has an event queued.
func noEvent(t *testing.T, d *Driver, why string) {
	t.Helper()
	select {
	case ev := <-d.Events():
		t.Fatalf("%s: reported %+v", why, ev)
	default:
	}
}

// nextEvent waits for d's next event.
func nextEvent(t *testing.T, d *Driver) drivers.Event {
	t.Helper()
	select {
	case ev := <-d.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return drivers.Event{}
}

// TestMultipartDeliveredAfterRestart: the real app sends one sms:delivered
// per part. After a restart the driver does not know how many parts a
// message has, so a delivery report is confirmed by a lookup of the app's
// aggregate state: part 1 of 2 delivered reports nothing; the last part
// reports the message delivered, once. Whether recovery asked Status about
// the message and whether sms:sent (with partsCount) arrived changes
// nothing.
func TestMultipartDeliveredAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name           string
		status, sentOK bool
	}{
		{"status asked, sms:sent arrived", true, true},
		{"status asked, sms:sent lost", true, false},
		{"untracked, sms:sent arrived", false, true},
		{"untracked, sms:sent lost", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app, srv := startApp(t, phoneapp.Options{Manual: true, ReportPerPart: true})
			opts := Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour,
				Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}}
			m := outbound("01JMULTIPART")
			m.Text = strings.Repeat("x", 200) // two parts for the app
			m.Segments.Parts = []string{m.Text[:153], m.Text[153:]}

			d1 := newDriver(t, opts)
			waitHooks(t, app, d1) // no registration of d1's left in flight
			if _, err := d1.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			_ = d1.Close()

			// smsgw restarts.
			d2 := newDriver(t, opts)
			defer d2.Close()
			waitHooks(t, app, d2)
			if tt.status {
				st, err := d2.Status(context.Background(), m.ID, "")
				if err != nil || st.State != drivers.SendPending {
					t.Fatalf("Status = %+v, %v", st, err)
				}
			}
			app.SetWebhookFaults(phoneapp.WebhookFaults{Lose: !tt.sentOK})
			if err := app.Advance(m.ID, phoneapp.StateSent, ""); err != nil {
				t.Fatal(err)
			}
			app.Settle()
			app.SetWebhookFaults(phoneapp.WebhookFaults{})

			if err := app.DeliverPart(m.ID); err != nil {
				t.Fatal(err)
			}
			app.Settle()
			if s := app.State(m.ID); s != phoneapp.StateSent {
				t.Fatalf("app state after part 1: %q", s)
			}
			noEvent(t, d2, "one part of two delivered")

			if err := app.DeliverPart(m.ID); err != nil {
				t.Fatal(err)
			}
			app.Settle()
			ev := nextEvent(t, d2)
			if ev.Kind != drivers.EventDelivery || !ev.Delivered || ev.ID != m.ID || ev.Ref != m.ID {
				t.Fatalf("event %+v", ev)
			}
			noEvent(t, d2, "a second report")
		})
	}
}

// TestMultipartPartsCountFromApp: a message our plan thought single-part
// that the app sent as two parts (sms:sent's partsCount) is not reported
// delivered on its first part's report.
func TestMultipartPartsCountFromApp(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{Manual: true, ReportPerPart: true})
	d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour,
		Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}})
	defer d.Close()
	waitHooks(t, app, d)
	m := outbound("01JPLANSAIDONE")
	m.Text = strings.Repeat("y", 200)
	m.Segments.Parts = []string{m.Text} // the plan says one part
	if _, err := d.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := app.Advance(m.ID, phoneapp.StateSent, ""); err != nil {
		t.Fatal(err)
	}
	app.Settle()
	if err := app.DeliverPart(m.ID); err != nil {
		t.Fatal(err)
	}
	app.Settle()
	noEvent(t, d, "one part of two delivered")
	if err := app.DeliverPart(m.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); !ev.Delivered || ev.ID != m.ID {
		t.Fatalf("event %+v", ev)
	}
}

// TestSingleReportPerPartAtOnce: with the app delivering at once and one
// report per part, a multipart message is reported delivered exactly once.
func TestMultipartReportsAtOnce(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{ReportPerPart: true})
	d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour,
		Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}})
	defer d.Close()
	waitHooks(t, app, d)
	m := outbound("01JATONCE")
	m.Text = strings.Repeat("z", 400) // three parts
	m.Segments.Parts = []string{m.Text[:153], m.Text[153:306], m.Text[306:]}
	if _, err := d.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	app.Settle()
	if ev := nextEvent(t, d); !ev.Delivered || ev.ID != m.ID {
		t.Fatalf("event %+v", ev)
	}
	noEvent(t, d, "a second report")
}

// TestEmitNeverBlocksSend: with the event buffer full, Send still returns;
// the dropped final state is reported by the next poll once there is room.
func TestEmitNeverBlocksSend(t *testing.T) {
	_, srv := startApp(t, phoneapp.Options{}) // accepted and delivered at once
	d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour})
	defer d.Close()
	for range eventBuffer {
		d.emit(drivers.Event{Kind: drivers.EventHeartbeat})
	}
	m := outbound("01JFULLBUFFER")
	done := make(chan error, 1)
	go func() {
		_, err := d.Send(context.Background(), m)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked on a full event buffer")
	}
	if d.dropped.Load() == 0 {
		t.Fatal("no drop counted")
	}
	for range eventBuffer {
		<-d.Events()
	}
	noEvent(t, d, "before the poll")
	(&smsgate{d: d}).pollOpen(context.Background())
	if ev := nextEvent(t, d); ev.Kind != drivers.EventDelivery || !ev.Delivered || ev.ID != m.ID {
		t.Fatalf("event %+v", ev)
	}
	h, err := d.Health(context.Background())
	if err != nil || !strings.Contains(h.Detail, "events dropped") {
		t.Errorf("Health = %+v, %v", h, err)
	}
}

// TestRetryAfterClamped: a huge Retry-After is capped at an hour instead of
// overflowing, and a date is read against the driver's clock.
func TestRetryAfterClamped(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
	}{
		{"30", 30 * time.Second},
		{"3600", time.Hour},
		{"9223372036", time.Hour},
		{"99999999999999999999999", time.Hour},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		h.Set("Retry-After", tt.v)
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}

	app, srv := startApp(t, phoneapp.Options{})
	d := newDriver(t, Options{BaseURL: srv.URL, Now: func() time.Time { return now }})
	defer d.Close()
	app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Status: 503,
		RetryAfter: now.Add(2 * time.Minute).Format(http.TimeFormat)})
	m := outbound("01JRETRYAFTER")
	m.ExpiresAt = time.Time{}
	_, err := d.Send(context.Background(), m)
	if de := classOf(t, err); de.Class != drivers.ClassTransient || de.RetryAfter != 2*time.Minute {
		t.Fatalf("error %+v", de)
	}
}
