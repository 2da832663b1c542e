package queue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/store"
	"smsgw/drivers"
)

// fakeDriver answers each Send from a script of outcomes; after the script
// it succeeds.
type fakeDriver struct {
	mu      sync.Mutex
	script  []error
	sends   map[string]int
	events  chan drivers.Event
	reports bool
	status  map[string]drivers.SendState
}

func newFake(script ...error) *fakeDriver {
	return &fakeDriver{script: script, sends: map[string]int{}, events: make(chan drivers.Event, 64)}
}

func (f *fakeDriver) Send(ctx context.Context, m *drivers.Outbound) (drivers.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends[m.ID]++
	if len(f.script) > 0 {
		err := f.script[0]
		f.script = f.script[1:]
		if err != nil {
			return drivers.Receipt{}, err
		}
	}
	if f.reports {
		f.events <- drivers.Event{Kind: drivers.EventDelivery, ID: m.ID, Ref: "ref-" + m.ID, Delivered: true}
	}
	return drivers.Receipt{Ref: "ref-" + m.ID, Parts: 1, DeliveryReports: f.reports}, nil
}

func (f *fakeDriver) Close() error { return nil }

func (f *fakeDriver) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[id]
}

// eventsDriver adds an event source to a fakeDriver.
type eventsDriver struct{ *fakeDriver }

func (e eventsDriver) Events() <-chan drivers.Event { return e.events }

// querier adds a status querier to a fakeDriver.
type querier struct{ *fakeDriver }

func (q querier) Status(ctx context.Context, id, ref string) (drivers.Status, error) {
	st, ok := q.status[id]
	if !ok {
		return drivers.Status{State: drivers.SendNotFound}, nil
	}
	return drivers.Status{State: st, Ref: "dev-ref"}, nil
}

type harness struct {
	t   *testing.T
	st  *store.Store
	q   *Queue
	now atomic.Pointer[time.Time]
}

func newHarness(t *testing.T, drv drivers.Driver, tweak func(*Options)) *harness {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := &harness{t: t, st: st}
	start := time.Now()
	h.now.Store(&start)
	opt := Options{
		Store:   st,
		Devices: []Device{{Name: "dev", Type: "fake", Driver: drv, Concurrency: 4}},
		Render: func(m *store.Message) (string, drivers.SegmentPlan, error) {
			return "hello", drivers.SegmentPlan{Parts: []string{"hello"}}, nil
		},
		MaxAttempts:    3,
		BackoffInitial: time.Millisecond,
		BackoffMax:     time.Millisecond,
		Jitter:         func() float64 { return 0 },
		Now:            func() time.Time { return *h.now.Load() },
	}
	if tweak != nil {
		tweak(&opt)
	}
	q, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	h.q = q
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.q.Run(ctx)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (h *harness) submit(ttl time.Duration) *store.Message {
	h.t.Helper()
	now := *h.now.Load()
	m := &store.Message{
		ID: ulid.Make().String(), Client: "local", To: "+33612345678", Purpose: "otp", Template: "otp_code",
		Params: map[string]string{"code": "123456"}, SecretParams: []string{"code"},
		MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(ttl), Parts: 1,
	}
	if err := h.q.Submit(context.Background(), m, nil, store.Admission{}); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// waitState polls until the message reaches want. The deadline only guards
// against a hang; it asserts nothing about speed.
func (h *harness) waitState(id string, want store.State) *store.Message {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := h.st.Get(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if m.State == want {
			return m
		}
		if time.Now().After(deadline) {
			evs, _ := h.st.Events(context.Background(), id)
			h.t.Fatalf("message stuck in %s, want %s; events %+v", m.State, want, evs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func reasons(t *testing.T, st *store.Store, id string) []string {
	evs, err := st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, string(e.To)+":"+e.Reason)
	}
	return out
}

func TestOutcomes(t *testing.T) {
	transient := drivers.Transient("busy", "", nil)
	cases := []struct {
		name      string
		script    []error
		uncertain bool // on_uncertain: retry
		want      store.State
		dead      bool
		sends     int
	}{
		{"success", nil, false, store.Sent, false, 1},
		{"transient then success", []error{transient, transient}, false, store.Sent, false, 3},
		{"transient exhausted", []error{transient, transient, transient}, false, store.Failed, true, 3},
		{"permanent", []error{drivers.Permanent("invalid_number", "", nil)}, false, store.Failed, false, 1},
		{"uncertain held", []error{drivers.Uncertain("timeout_after_write", "", nil)}, false, store.Unknown, false, 1},
		{"uncertain retried", []error{drivers.Uncertain("timeout_after_write", "", nil)}, true, store.Sent, false, 2},
		{"unclassified error is uncertain", []error{errors.New("boom")}, false, store.Unknown, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			drv := newFake(c.script...)
			h := newHarness(t, drv, func(o *Options) { o.RetryUncertain = c.uncertain })
			h.run()
			m := h.submit(time.Hour)
			got := h.waitState(m.ID, c.want)
			if got.Dead != c.dead {
				t.Errorf("dead = %v, want %v", got.Dead, c.dead)
			}
			if n := drv.count(m.ID); n != c.sends {
				t.Errorf("sent %d times, want %d", n, c.sends)
			}
			if got.Attempts != c.sends {
				t.Errorf("attempts %d, want %d", got.Attempts, c.sends)
			}
			if c.want == store.Failed && got.LastError == nil {
				t.Error("failed without last error")
			}
		})
	}
}

func TestDeliveryReportMovesSentToDelivered(t *testing.T) {
	drv := newFake()
	drv.reports = true
	h := newHarness(t, eventsDriver{drv}, nil)
	h.run()
	m := h.submit(time.Hour)
	got := h.waitState(m.ID, store.Delivered)
	if got.DriverRef != "ref-"+m.ID {
		t.Fatalf("driver ref %q", got.DriverRef)
	}
	if _, ok := got.Params["code"]; ok {
		t.Fatal("secret param kept after delivery")
	}
}

func TestExpiredMessagesAreNeverSent(t *testing.T) {
	t.Run("at lease", func(t *testing.T) {
		drv := newFake()
		h := newHarness(t, drv, nil)
		m := h.submit(time.Minute)
		later := h.now.Load().Add(2 * time.Minute)
		h.now.Store(&later)
		h.run()
		h.waitState(m.ID, store.Expired)
		if drv.count(m.ID) != 0 {
			t.Fatal("expired message was sent")
		}
	})
	t.Run("right before send", func(t *testing.T) {
		drv := newFake()
		var h *harness
		h = newHarness(t, drv, func(o *Options) {
			o.Render = func(m *store.Message) (string, drivers.SegmentPlan, error) {
				// Time passes between the lease and the handoff.
				later := h.now.Load().Add(2 * time.Minute)
				h.now.Store(&later)
				return "x", drivers.SegmentPlan{Parts: []string{"x"}}, nil
			}
		})
		h.run()
		m := h.submit(time.Minute)
		h.waitState(m.ID, store.Expired)
		if drv.count(m.ID) != 0 {
			t.Fatal("message sent after its validity")
		}
		got := reasons(t, h.st, m.ID)
		if got[len(got)-1] != "expired:expired_before_send" {
			t.Fatalf("events %v", got)
		}
	})
	t.Run("retry would be late", func(t *testing.T) {
		drv := newFake(drivers.Transient("busy", "", nil))
		h := newHarness(t, drv, func(o *Options) {
			o.BackoffInitial, o.BackoffMax = time.Hour, time.Hour
			o.Jitter = func() float64 { return 0.5 }
		})
		h.run()
		m := h.submit(time.Minute)
		h.waitState(m.ID, store.Expired)
	})
}

func TestCancelAndRequeue(t *testing.T) {
	drv := newFake(drivers.Transient("busy", "", nil), drivers.Transient("busy", "", nil), drivers.Transient("busy", "", nil))
	h := newHarness(t, drv, nil)
	queued := h.submit(time.Hour)
	if _, err := h.q.Cancel(context.Background(), queued.ID); err != nil {
		t.Fatal(err)
	}
	h.run()
	failed := h.submit(time.Hour)
	h.waitState(failed.ID, store.Failed)
	if _, err := h.q.Cancel(context.Background(), failed.ID); err == nil {
		t.Fatal("cancelled a failed message")
	}
	dead, _, _ := h.st.List(context.Background(), store.Filter{DeadOnly: true})
	if len(dead) != 1 || dead[0].ID != failed.ID {
		t.Fatalf("dead letters %v", dead)
	}
	// Secret params are erased at the terminal state, so this OTP cannot
	// be requeued.
	if _, err := h.q.Requeue(context.Background(), failed.ID); !errors.Is(err, store.ErrErased) {
		t.Fatalf("requeue of erased message: %v", err)
	}
	if drv.count(queued.ID) != 0 {
		t.Fatal("cancelled message was sent")
	}
}

func TestRequeue(t *testing.T) {
	transient := drivers.Transient("busy", "", nil)
	drv := newFake(transient, transient, transient)
	h := newHarness(t, drv, nil)
	h.run()
	submit := func(ttl time.Duration) *store.Message {
		now := *h.now.Load()
		m := &store.Message{ID: ulid.Make().String(), To: "+33612345678", Purpose: "reminder", MaxAttempts: 3,
			Params: map[string]string{"when": "noon"}, CreatedAt: now, DueAt: now, ExpiresAt: now.Add(ttl)}
		if err := h.q.Submit(context.Background(), m, nil, store.Admission{}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := submit(time.Hour)
	h.waitState(m.ID, store.Failed)
	if _, err := h.q.Requeue(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	got := h.waitState(m.ID, store.Sent)
	if got.Attempts != 1 || got.Dead {
		t.Fatalf("after requeue: %+v", got)
	}
	// Once expired, requeue is refused.
	drv.mu.Lock()
	drv.script = []error{transient, transient, transient}
	drv.mu.Unlock()
	m2 := submit(time.Hour)
	h.waitState(m2.ID, store.Failed)
	later := h.now.Load().Add(2 * time.Hour)
	h.now.Store(&later)
	if _, err := h.q.Requeue(context.Background(), m2.ID); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("requeue of expired: %v", err)
	}
}

func TestRecoverSending(t *testing.T) {
	cases := []struct {
		name   string
		driver func(f *fakeDriver) drivers.Driver
		status drivers.SendState
		want   store.State
		resent bool
	}{
		{"no querier holds", func(f *fakeDriver) drivers.Driver { return f }, "", store.Unknown, false},
		{"device never got it", func(f *fakeDriver) drivers.Driver { return querier{f} }, drivers.SendNotFound, store.Sent, true},
		{"device sent it", func(f *fakeDriver) drivers.Driver { return querier{f} }, drivers.SendSent, store.Sent, false},
		{"device delivered it", func(f *fakeDriver) drivers.Driver { return querier{f} }, drivers.SendDelivered, store.Delivered, false},
		{"device failed it", func(f *fakeDriver) drivers.Driver { return querier{f} }, drivers.SendFailed, store.Failed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			h := newHarness(t, c.driver(f), nil)
			m := h.submit(time.Hour)
			// Simulate a crash after the lease was written.
			if _, err := h.st.Transition(context.Background(), m.ID, store.Change{From: []store.State{store.Queued}, To: store.Sending, Driver: "dev",
				Mutate: func(m *store.Message) { m.Attempts++ }}); err != nil {
				t.Fatal(err)
			}
			f.status = map[string]drivers.SendState{}
			if c.status != drivers.SendNotFound && c.status != "" {
				f.status[m.ID] = c.status
			}
			if err := h.q.Recover(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.run()
			h.waitState(m.ID, c.want)
			if resent := f.count(m.ID) > 0; resent != c.resent {
				t.Fatalf("resent = %v, want %v", resent, c.resent)
			}
			left, _ := h.st.InState(context.Background(), store.Sending)
			if len(left) != 0 {
				t.Fatal("messages left in sending")
			}
		})
	}
}

func TestRoutingSkipsDownDevice(t *testing.T) {
	primary, backup := newFake(), newFake()
	h := newHarness(t, primary, func(o *Options) {
		o.Devices = []Device{{Name: "primary", Driver: primary}, {Name: "backup", Driver: backup}}
		o.Routes = map[string][]string{"otp": {"primary", "backup"}}
	})
	h.q.devices["primary"].setHealth(drivers.Health{State: drivers.StateDown})
	h.run()
	m := h.submit(time.Hour)
	got := h.waitState(m.ID, store.Sent)
	if got.Driver != "backup" || primary.count(m.ID) != 0 || backup.count(m.ID) != 1 {
		t.Fatalf("routed to %s", got.Driver)
	}
}

func TestReservePacing(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	cases := []struct {
		name    string
		dev     Device
		at      []time.Duration // reserve offsets; each reservation is released at once
		parts   int
		want    []bool
		retryAt time.Duration // for the last refusal
	}{
		{"every", Device{Every: 3 * time.Second, Concurrency: 1}, []time.Duration{0, time.Second, 3 * time.Second}, 1, []bool{true, false, true}, 0},
		{"window", Device{MaxParts: 2, Window: time.Minute, Concurrency: 1}, []time.Duration{0, time.Second, 2 * time.Second, 61 * time.Second}, 1, []bool{true, true, false, true}, 0},
		{"parts count", Device{MaxParts: 3, Window: time.Minute, Concurrency: 1}, []time.Duration{0, time.Second}, 2, []bool{true, false}, time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &device{Device: c.dev}
			var lastRetry time.Time
			for i, off := range c.at {
				ok, retry := d.reserve(t0.Add(off), c.parts)
				if ok != c.want[i] {
					t.Fatalf("reserve #%d at +%s = %v, want %v", i, off, ok, c.want[i])
				}
				if ok {
					d.release()
				} else {
					lastRetry = retry
				}
			}
			if c.retryAt != 0 && !lastRetry.Equal(t0.Add(c.retryAt)) {
				t.Fatalf("retry at %s, want +%s", lastRetry, c.retryAt)
			}
		})
	}
	d := &device{Device: Device{Concurrency: 2}}
	a, _ := d.reserve(t0, 1)
	b, _ := d.reserve(t0, 1)
	c, _ := d.reserve(t0, 1)
	if !a || !b || c {
		t.Fatal("concurrency cap not enforced")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	h := newHarness(t, newFake(), func(o *Options) {
		o.BackoffInitial, o.BackoffMax = 10*time.Second, 60*time.Second
		o.Jitter = func() float64 { return 0.999999 }
	})
	want := []time.Duration{10, 20, 40, 60, 60}
	for i, w := range want {
		got := h.q.backoff(i + 1)
		if got > w*time.Second || got < w*time.Second-time.Millisecond {
			t.Errorf("attempt %d: ceiling %s, want %s", i+1, got, w*time.Second)
		}
	}
	h.q.opt.Jitter = func() float64 { return 0 }
	if got := h.q.backoff(3); got != 0 {
		t.Errorf("full jitter lower bound %s", got)
	}
}
