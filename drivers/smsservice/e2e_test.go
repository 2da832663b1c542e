package smsservice

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
	"smsgw/drivers/smsservice/phoneapp"
)

// hangGuard bounds every wait in these tests; it only turns a hang into a
// failure and asserts nothing about speed.
const hangGuard = 15 * time.Second

// waitFor polls cond until it holds, failing after the hang guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newQueue(t *testing.T, st *store.Store, d drivers.Driver) *queue.Queue {
	t.Helper()
	q, err := queue.New(queue.Options{
		Store:   st,
		Devices: []queue.Device{{Name: "phone", Type: "smsservice", Driver: d, Concurrency: 1}},
		Render: func(*store.Message) (string, drivers.SegmentPlan, error) {
			return "Your code is 123456", drivers.SegmentPlan{Encoding: drivers.GSM7, Parts: []string{"Your code is 123456"}}, nil
		},
		MaxAttempts: 3, BackoffInitial: time.Millisecond, BackoffMax: time.Millisecond,
		SendTimeout: hangGuard, HealthInterval: time.Hour,
		Jitter: func() float64 { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// run runs q until the returned stop is called.
func run(q *queue.Queue) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = q.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func submit(t *testing.T, q *queue.Queue) *store.Message {
	t.Helper()
	now := time.Now()
	m := &store.Message{
		ID: ulid.Make().String(), Client: "local", To: "+33612345678", Purpose: "otp", Template: "otp_code",
		Params: map[string]string{"code": "123456"}, SecretParams: []string{"code"},
		MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(10 * time.Minute), Parts: 1,
	}
	if err := q.Submit(context.Background(), m, nil, store.Admission{}); err != nil {
		t.Fatal(err)
	}
	return m
}

func waitState(t *testing.T, st *store.Store, id string, want store.State) {
	t.Helper()
	var last store.State
	waitFor(t, "state "+string(want), func() bool {
		m, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last = m.State
		return m.State == want || m.State.Terminal()
	})
	if last != want {
		evs, _ := st.Events(context.Background(), id)
		t.Fatalf("message ended in %s, want %s; events %+v", last, want, evs)
	}
}

// TestEndToEnd runs the real dispatcher against the simulated app: the
// message reaches delivered by webhook, and with every webhook lost by
// polling alone.
func TestEndToEnd(t *testing.T) {
	tests := []struct {
		name   string
		faults phoneapp.WebhookFaults
		poll   time.Duration
	}{
		// Polling every hour: only the webhook can deliver in time.
		{"ByWebhook", phoneapp.WebhookFaults{}, time.Hour},
		// Webhooks duplicated and out of order still give one delivery.
		{"ByWebhookDuplicatedReversed", phoneapp.WebhookFaults{Duplicate: true, Reverse: true}, time.Hour},
		{"PollingOnly", phoneapp.WebhookFaults{Lose: true}, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, srv := startApp(t, phoneapp.Options{})
			app.SetWebhookFaults(tt.faults)
			d := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: tt.poll,
				Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}})
			defer d.Close()
			waitFor(t, "webhook registration", func() bool { return len(app.Webhooks()) == len(HookEvents) })

			st := openStore(t)
			q := newQueue(t, st, d)
			stop := run(q)
			defer stop()
			m := submit(t, q)
			waitState(t, st, m.ID, store.Delivered)
			if n := app.Received(m.ID); n != 1 {
				t.Errorf("app received the message %d times, want 1", n)
			}
			sent, lost := app.WebhookCounts()
			if tt.faults.Lose && (lost == 0 || sent != 0) {
				t.Errorf("webhooks sent %d, lost %d: want all lost", sent, lost)
			}
			if !tt.faults.Lose && sent == 0 {
				t.Error("no webhook was sent")
			}
		})
	}
}

// crashing stands for a daemon that dies during a send: it hands the
// message over, then never reports back until released.
type crashing struct {
	drivers.Driver
	dead chan struct{}
}

func (c *crashing) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	go func() { _, _ = c.Driver.Send(ctx, m) }()
	<-c.dead
	return drivers.Receipt{}, drivers.Transient("crashed", "", nil)
}

// TestCrashBetweenHandoffAndReply: the app stores the message but its reply
// never arrives because the daemon dies. After a restart, recovery looks
// the message up, finds it, and it is delivered without a second send.
func TestCrashBetweenHandoffAndReply(t *testing.T) {
	app, srv := startApp(t, phoneapp.Options{Manual: true})
	st := openStore(t)

	// First life: the app keeps the message and holds its reply.
	app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Store: true, Stall: true})
	d1 := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: time.Hour})
	dead := &crashing{Driver: d1, dead: make(chan struct{})}
	q1 := newQueue(t, st, dead)
	stop1 := run(q1)
	m := submit(t, q1)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := app.WaitStalled(ctx, 1); err != nil {
		t.Fatalf("the send never reached the app: %v", err)
	}
	if got, _ := st.Get(ctx, m.ID); got.State != store.Sending {
		t.Fatalf("state before the crash = %s, want sending", got.State)
	}
	// The daemon is gone: whatever the first life does later must not
	// matter (its late outcome cannot move a recovered message).
	defer func() {
		close(dead.dead)
		stop1()
		_ = d1.Close()
	}()

	// Second life: a new driver, recovery, then the phone delivers.
	d2 := newDriver(t, Options{BaseURL: srv.URL, DeliveryReports: true, PollInterval: 10 * time.Millisecond})
	defer d2.Close()
	q2 := newQueue(t, st, d2)
	if err := q2.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	got, err := st.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.Sent {
		evs, _ := st.Events(ctx, m.ID)
		t.Fatalf("after recovery state = %s, want sent (found by lookup); events %+v", got.State, evs)
	}
	stop2 := run(q2)
	defer stop2()
	if err := app.Advance(m.ID, phoneapp.StateDelivered, ""); err != nil {
		t.Fatal(err)
	}
	waitState(t, st, m.ID, store.Delivered)
	if n, p := app.Received(m.ID), app.Posts(m.ID); n != 1 || p != 1 {
		t.Errorf("app received %d, posted %d times; want exactly 1", n, p)
	}
}
