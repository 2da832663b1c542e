package modem

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/policy"
	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
	"smsgw/drivers/modem/modemsim"
	"smsgw/drivers/modem/pdu"
)

// e2eHangGuard bounds every wait of the end-to-end tests; it turns a hang
// into a failure and asserts nothing about speed.
const e2eHangGuard = 15 * time.Second

// e2eTo is the recipient of every end-to-end message.
const e2eTo = "+33612345678"

// e2e is the real dispatcher and store in front of a modem driver on a
// simulated modem. The dispatcher's clock only moves when a test moves it.
type e2e struct {
	t     *testing.T
	modem *modemsim.Modem
	drv   *Driver
	st    *store.Store
	q     *queue.Queue
	now   atomic.Pointer[time.Time]
}

// newE2E opens a modem driver on modem and a queue that renders every
// message as text.
func newE2E(t *testing.T, modem *modemsim.Modem, text string) *e2e {
	t.Helper()
	h := &e2e{t: t, modem: modem, drv: open(t, modem, nil)}
	start := time.Now()
	h.now.Store(&start)
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h.st = st
	h.q, err = queue.New(queue.Options{
		Store:   st,
		Devices: []queue.Device{{Name: "modem", Type: "modem", Driver: h.drv, Concurrency: 1}},
		Render: func(*store.Message) (string, drivers.SegmentPlan, error) {
			return text, policy.Plan(text), nil
		},
		MaxAttempts:    3,
		BackoffInitial: time.Millisecond,
		BackoffMax:     time.Millisecond,
		Jitter:         func() float64 { return 0 },
		SendTimeout:    e2eHangGuard,
		HealthInterval: time.Hour,
		Now:            func() time.Time { return *h.now.Load() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.q.Run(ctx)
	}()
	// Registered after open's Close, so it runs first: the dispatcher
	// stops reading events before the driver closes their channel.
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

// advance moves the dispatcher's clock and wakes it.
func (h *e2e) advance(d time.Duration) {
	next := h.now.Load().Add(d)
	h.now.Store(&next)
	h.q.Wake()
}

// submit queues one message whose rendered text takes parts parts.
func (h *e2e) submit(parts int) *store.Message {
	h.t.Helper()
	now := *h.now.Load()
	m := &store.Message{
		ID: ulid.Make().String(), Client: "local", To: e2eTo, Purpose: "otp", Template: "otp_code",
		Params: map[string]string{"code": "123456"}, SecretParams: []string{"code"},
		MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(time.Hour), Parts: parts,
	}
	if err := h.q.Submit(context.Background(), m, nil, store.Admission{}); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// waitFor polls the message until cond holds, failing after the hang guard.
func (h *e2e) waitFor(id, what string, cond func(*store.Message) bool) *store.Message {
	h.t.Helper()
	deadline := time.Now().Add(e2eHangGuard)
	for {
		m, err := h.st.Get(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			evs, _ := h.st.Events(context.Background(), id)
			h.t.Fatalf("message never %s: state %s, events %+v", what, m.State, evs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitState waits until the message is in want, failing early if it ends
// in another terminal state.
func (h *e2e) waitState(id string, want store.State) *store.Message {
	h.t.Helper()
	m := h.waitFor(id, "reached "+string(want), func(m *store.Message) bool { return m.State == want || m.State.Terminal() })
	if m.State != want {
		evs, _ := h.st.Events(context.Background(), id)
		h.t.Fatalf("message ended %s, want %s; events %+v", m.State, want, evs)
	}
	return m
}

// path lists the states a message went through, from its events.
func (h *e2e) path(id string) []store.State {
	h.t.Helper()
	evs, err := h.st.Events(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]store.State, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.To)
	}
	return out
}

// report has the simulated network route a status report (+CDS) for the
// part the modem accepted with message reference mr.
func (h *e2e) report(mr int, status byte) {
	h.t.Helper()
	now := time.Now()
	hexPDU, n, err := pdu.StatusReport{MR: byte(mr), Recipient: e2eTo, SCTS: now, Discharge: now, Status: status}.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.modem.URC(fmt.Sprintf("+CDS: %d\r\n%s", n, hexPDU)); err != nil {
		h.t.Fatal(err)
	}
}

// TestEndToEndSentThenDelivered runs a message through the real dispatcher
// and store to the simulated modem: it reaches sent when the modem accepts
// it, and delivered when the network's status report comes. The report is
// sent by the test once the message is sent, so that the order is certain.
func TestEndToEndSentThenDelivered(t *testing.T) {
	const text = "Your code is 123456. It expires in 5 minutes."
	h := newE2E(t, modemsim.New(modemsim.Options{NoReports: true}), text)
	m := h.submit(1)

	sent := h.waitState(m.ID, store.Sent)
	at := h.modem.Sent()
	if len(at) != 1 || at[0].Info.Text != text || at[0].Info.To != e2eTo || !at[0].Info.StatusReport || at[0].Info.Concat != nil {
		t.Fatalf("modem received %+v, want one single-part SMS to %s asking for a report", at, e2eTo)
	}
	if want := fmt.Sprint(at[0].MR); sent.DriverRef != want || sent.Parts != 1 {
		t.Errorf("sent message has ref %q and %d parts, want ref %s and 1 part", sent.DriverRef, sent.Parts, want)
	}

	h.report(at[0].MR, 0x00) // TP-ST 0: received by the recipient
	h.waitState(m.ID, store.Delivered)
	want := []store.State{store.Queued, store.Sending, store.Sent, store.Delivered}
	if got := h.path(m.ID); !equalStates(got, want) {
		t.Errorf("message went through %v, want %v", got, want)
	}
	if n := len(h.modem.Sent()); n != 1 {
		t.Errorf("modem received %d SMS, want 1", n)
	}
}

// TestEndToEndMultipartRetryResumes sends a 3-part message whose second
// part meets a transient +CMS ERROR. The dispatcher schedules a retry
// (no sooner than the driver's RetryAfter), and the retry sends parts two
// and three only: the modem receives each part exactly once.
func TestEndToEndMultipartRetryResumes(t *testing.T) {
	text := strings.Repeat("abcdefghij", 40) // 400 septets: 3 parts
	if n := len(policy.Plan(text).Parts); n != 3 {
		t.Fatalf("the text plans into %d parts, want 3", n)
	}
	h := newE2E(t, modemsim.New(modemsim.Options{}), text)
	h.modem.Script(modemsim.Outcome{}, modemsim.Outcome{CMS: 41}) // part 2: temporary failure
	m := h.submit(3)

	retry := h.waitFor(m.ID, "scheduled for a retry", func(m *store.Message) bool {
		return m.State == store.Queued && m.Attempts == 1 || m.State.Terminal()
	})
	if retry.State != store.Queued || retry.LastError == nil || retry.LastError.Code != "cms_41" || retry.LastError.Class != string(drivers.ClassTransient) {
		t.Fatalf("after the +CMS ERROR the message is %s with last error %+v, want queued for a retry after a transient cms_41", retry.State, retry.LastError)
	}
	if n := len(h.modem.Sent()); n != 1 {
		t.Fatalf("modem has %d parts after the failed attempt, want 1", n)
	}
	// The driver asked for at least 10 s before a retry; move the
	// dispatcher's clock past it instead of waiting.
	if !retry.DueAt.After(*h.now.Load()) {
		t.Errorf("retry due at %v, not after the failure at %v: the driver's RetryAfter was ignored", retry.DueAt, *h.now.Load())
	}
	h.advance(retry.DueAt.Sub(*h.now.Load()))

	done := h.waitState(m.ID, store.Delivered)
	if done.Attempts != 2 || done.Parts != 3 {
		t.Errorf("delivered after %d attempts with %d parts, want 2 attempts and 3 parts", done.Attempts, done.Parts)
	}
	parts := h.modem.Sent()
	if len(parts) != 3 {
		t.Fatalf("modem received %d part PDUs, want exactly 3", len(parts))
	}
	seen := map[int]int{}
	var joined strings.Builder
	for i, p := range parts {
		c := p.Info.Concat
		if c == nil || c.Total != 3 || c.Seq != i+1 || c.Ref != parts[0].Info.Concat.Ref {
			t.Fatalf("PDU %d has concatenation header %+v, want part %d of 3 with one reference", i, c, i+1)
		}
		seen[c.Seq]++
		joined.WriteString(p.Info.Text)
	}
	if seen[1] != 1 {
		t.Errorf("part one was sent %d times, want once", seen[1])
	}
	if joined.String() != text {
		t.Error("the parts the modem received do not join to the text")
	}
	want := []store.State{store.Queued, store.Sending, store.Queued, store.Sending, store.Sent, store.Delivered}
	got := h.path(m.ID)
	// A status report may overtake the driver's answer to the retry.
	alt := []store.State{store.Queued, store.Sending, store.Queued, store.Sending, store.Delivered}
	if !equalStates(got, want) && !equalStates(got, alt) {
		t.Errorf("message went through %v, want %v", got, want)
	}
}

func equalStates(a, b []store.State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
