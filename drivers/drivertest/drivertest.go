// Package drivertest is the conformance suite every smsgw driver's tests run:
// success, each outcome class, context cancellation, expiry, the shape of the
// optional capabilities, Close and goroutine hygiene.
//
// A driver's test builds a Harness around a driver talking to a simulated or
// scripted device and calls Run:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Harness{New: ..., Force: ..., Stall: ...})
//	}
//
// The suite never asserts on elapsed time. Calls into the driver are guarded
// by a generous deadline (Harness.HangGuard) only to turn a hang into a failure.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smsgw/drivers"
)

// DefaultHangGuard is the hang guard used when Harness.HangGuard is zero.
const DefaultHangGuard = 30 * time.Second

// Harness tells the suite how to build and steer one driver.
type Harness struct {
	// New returns a fresh driver whose device accepts messages. The suite
	// closes it. Required.
	New func(t *testing.T) drivers.Driver
	// Force arranges for the next Send on d to end in an error of class c.
	// It may call t.Skip when the device cannot produce c. When nil, the
	// per-class subtests are skipped.
	Force func(t *testing.T, d drivers.Driver, c drivers.Class)
	// Stall, when set, makes the next Send on d stay in flight, before the
	// message leaves, until its context is done. It returns a function that
	// blocks until that Send is in flight (or ctx is done), so the suite can
	// cancel a send that is really under way. When nil, only cancellation
	// before Send is tested.
	Stall func(t *testing.T, d drivers.Driver) (inFlight func(ctx context.Context) error)
	// Message, when set, builds the messages the suite sends (for drivers
	// that need a particular recipient). It must use id as the message ID and
	// produce a message that has not expired.
	Message func(id string) *drivers.Outbound
	// HangGuard bounds every call the suite makes into a driver, and the wait
	// for goroutines to exit after Close; zero means DefaultHangGuard.
	// Exceeding it is reported as a hang: it is not a performance assertion.
	HangGuard time.Duration
}

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("drivertest: Harness.New is required")
	}
	s := &suite{h: h, guard: h.HangGuard}
	if s.guard <= 0 {
		s.guard = DefaultHangGuard
	}
	t.Run("Success", s.success)
	t.Run("ErrorClasses", s.errorClasses)
	t.Run("Cancel", s.cancel)
	t.Run("Expired", s.expired)
	t.Run("Health", s.health)
	t.Run("StatusAfterSuccess", s.statusAfterSuccess)
	t.Run("Close", s.close)
	t.Run("NoGoroutineLeak", s.noLeak)
}

type suite struct {
	h     Harness
	guard time.Duration
	seq   atomic.Int64
}

// message returns a fresh, valid message with a unique id.
func (s *suite) message(t *testing.T) *drivers.Outbound {
	id := fmt.Sprintf("drivertest-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), s.seq.Add(1))
	if s.h.Message != nil {
		return s.h.Message(id)
	}
	text := "drivertest message"
	return &drivers.Outbound{
		ID:        id,
		To:        "+33612345678",
		Text:      text,
		Segments:  drivers.SegmentPlan{Encoding: drivers.GSM7, Parts: []string{text}},
		ExpiresAt: time.Now().Add(time.Hour),
		Attempt:   1,
	}
}

// open builds a driver and closes it when the test ends.
func (s *suite) open(t *testing.T) drivers.Driver {
	t.Helper()
	d := s.h.New(t)
	if d == nil {
		t.Fatal("Harness.New returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

type sendResult struct {
	r   drivers.Receipt
	err error
}

// send calls d.Send in a goroutine and fails the test if it hangs.
func (s *suite) send(t *testing.T, ctx context.Context, d drivers.Driver, m *drivers.Outbound) (drivers.Receipt, error) {
	t.Helper()
	ch := startSend(ctx, d, m)
	select {
	case res := <-ch:
		return res.r, res.err
	case <-time.After(s.guard):
		t.Fatalf("Send(%s) did not return within the hang guard of %v", m.ID, s.guard)
		return drivers.Receipt{}, nil
	}
}

func startSend(ctx context.Context, d drivers.Driver, m *drivers.Outbound) <-chan sendResult {
	ch := make(chan sendResult, 1)
	go func() {
		r, err := d.Send(ctx, m)
		ch <- sendResult{r, err}
	}()
	return ch
}

// ctx is a context bounded by the hang guard.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.guard)
	t.Cleanup(cancel)
	return ctx
}

// classOf returns the class of a Send error, failing the test when err is
// nil or not a *drivers.Error.
func classOf(t *testing.T, err error) drivers.Class {
	t.Helper()
	if err == nil {
		t.Fatal("Send returned a nil error, want a classified failure")
	}
	var de *drivers.Error
	if !errors.As(err, &de) {
		t.Fatalf("Send error %q (%T) is not a *drivers.Error", err, err)
	}
	if de.Code == "" {
		t.Errorf("Send error %q has no reason code", err)
	}
	return de.Class
}

func (s *suite) success(t *testing.T) {
	d := s.open(t)
	m := s.message(t)
	r, err := s.send(t, s.ctx(t), d, m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if r.Ref == "" {
		t.Error("Receipt.Ref is empty")
	}
	if r.Parts < 1 {
		t.Errorf("Receipt.Parts = %d, want at least 1", r.Parts)
	}
}

func (s *suite) errorClasses(t *testing.T) {
	if s.h.Force == nil {
		t.Skip("Harness.Force not set")
	}
	for _, c := range []drivers.Class{drivers.ClassTransient, drivers.ClassPermanent, drivers.ClassUncertain} {
		t.Run(string(c), func(t *testing.T) {
			d := s.open(t)
			s.h.Force(t, d, c)
			_, err := s.send(t, s.ctx(t), d, s.message(t))
			if got := classOf(t, err); got != c {
				t.Errorf("class = %q, want %q (error %q)", got, c, err)
			}
		})
	}
}

func (s *suite) cancel(t *testing.T) {
	tests := []struct {
		name     string
		inFlight bool
	}{
		{"BeforeSend", false},
		{"InFlight", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.inFlight && s.h.Stall == nil {
				t.Skip("Harness.Stall not set")
			}
			d := s.open(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var ch <-chan sendResult
			if tt.inFlight {
				wait := s.h.Stall(t, d)
				ch = startSend(ctx, d, s.message(t))
				if err := wait(s.ctx(t)); err != nil {
					t.Fatalf("waiting for the stalled send: %v", err)
				}
				cancel()
			} else {
				cancel()
				ch = startSend(ctx, d, s.message(t))
			}
			var res sendResult
			select {
			case res = <-ch:
			case <-time.After(s.guard):
				t.Fatalf("Send ignored its cancelled context (hang guard %v)", s.guard)
			}
			switch c := classOf(t, res.err); c {
			case drivers.ClassTransient, drivers.ClassUncertain:
			default:
				t.Errorf("class = %q, want transient or uncertain (error %q)", c, res.err)
			}
		})
	}
}

func (s *suite) expired(t *testing.T) {
	d := s.open(t)
	m := s.message(t)
	m.ExpiresAt = time.Now().Add(-time.Minute)
	_, err := s.send(t, s.ctx(t), d, m)
	switch c := classOf(t, err); c {
	case drivers.ClassPermanent, drivers.ClassTransient:
	default:
		t.Errorf("class = %q, want permanent or transient: an expired message must not be sent", c)
	}
	if sq, ok := d.(drivers.StatusQuerier); ok {
		st, err := sq.Status(s.ctx(t), m.ID, "")
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.State != drivers.SendNotFound {
			t.Errorf("Status of an expired message = %q, want %q", st.State, drivers.SendNotFound)
		}
	}
}

func (s *suite) health(t *testing.T) {
	d := s.open(t)
	hc, ok := d.(drivers.HealthChecker)
	if !ok {
		t.Skip("driver does not implement HealthChecker")
	}
	h, err := hc.Health(s.ctx(t))
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	switch h.State {
	case drivers.StateReady, drivers.StateDegraded, drivers.StateDown:
	default:
		t.Errorf("Health.State = %q, not a known state", h.State)
	}
	if h.CheckedAt.IsZero() {
		t.Error("Health.CheckedAt is not set")
	}
	if h.Battery != nil && (h.Battery.Percent < 0 || h.Battery.Percent > 100) {
		t.Errorf("Battery.Percent = %d, want 0..100", h.Battery.Percent)
	}
}

// statusAfterSuccess accepts pending as well as sent and delivered: a device
// that queues internally may not have sent yet, but it must know the message.
func (s *suite) statusAfterSuccess(t *testing.T) {
	d := s.open(t)
	sq, ok := d.(drivers.StatusQuerier)
	if !ok {
		t.Skip("driver does not implement StatusQuerier")
	}
	m := s.message(t)
	r, err := s.send(t, s.ctx(t), d, m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, q := range []struct{ name, id, ref string }{
		{"ByID", m.ID, ""},
		{"ByIDAndRef", m.ID, r.Ref},
	} {
		st, err := sq.Status(s.ctx(t), q.id, q.ref)
		if err != nil {
			t.Fatalf("%s: Status: %v", q.name, err)
		}
		switch st.State {
		case drivers.SendPending, drivers.SendSent, drivers.SendDelivered:
		default:
			t.Errorf("%s: Status after a successful send = %q, want pending, sent or delivered", q.name, st.State)
		}
	}
}

func (s *suite) close(t *testing.T) {
	d := s.h.New(t)
	if d == nil {
		t.Fatal("Harness.New returned nil")
	}
	if err := s.closeGuarded(t, d); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.closeGuarded(t, d); err != nil {
		t.Errorf("second Close: %v, want nil (Close must be idempotent)", err)
	}
	if _, err := s.send(t, s.ctx(t), d, s.message(t)); err == nil {
		t.Error("Send after Close returned a nil error")
	}
	if es, ok := d.(drivers.EventSource); ok {
		s.drainClosed(t, es.Events())
	}
}

// closeGuarded closes d, failing the test if Close hangs or panics.
func (s *suite) closeGuarded(t *testing.T, d drivers.Driver) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- fmt.Errorf("panic in Close: %v", p)
			}
		}()
		ch <- d.Close()
	}()
	select {
	case err := <-ch:
		return err
	case <-time.After(s.guard):
		t.Fatalf("Close did not return within the hang guard of %v", s.guard)
		return nil
	}
}

// drainClosed reads ch until it is closed, failing the test if it never is.
func (s *suite) drainClosed(t *testing.T, ch <-chan drivers.Event) {
	t.Helper()
	guard := time.After(s.guard)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-guard:
			t.Fatal("Events channel not closed after Close")
			return
		}
	}
}

func (s *suite) noLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	d := s.h.New(t)
	if d == nil {
		t.Fatal("Harness.New returned nil")
	}
	for range 3 {
		if _, err := s.send(t, s.ctx(t), d, s.message(t)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if hc, ok := d.(drivers.HealthChecker); ok {
		if _, err := hc.Health(s.ctx(t)); err != nil {
			t.Fatalf("Health: %v", err)
		}
	}
	if err := s.closeGuarded(t, d); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if es, ok := d.(drivers.EventSource); ok {
		s.drainClosed(t, es.Events())
	}
	CheckGoroutines(t, before, s.guard)
}

// CheckGoroutines fails t when, after letting finished goroutines exit, more
// than before are still running. It waits up to guard (DefaultHangGuard when
// zero) for them to settle and prints every stack on failure. Tests using it
// must not run in parallel.
func CheckGoroutines(t testing.TB, before int, guard time.Duration) {
	t.Helper()
	if guard <= 0 {
		guard = DefaultHangGuard
	}
	deadline := time.Now().Add(guard)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still running, %d before:\n%s", n, before, buf)
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}
