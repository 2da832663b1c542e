package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/drivers"
	"smsgw/drivers/drivertest"
)

// guard bounds waits on channels so that a bug shows as a failure, not a
// hung test. It is never used to measure anything.
const guard = 30 * time.Second

func newDriver(t *testing.T, opts Options) *Driver {
	t.Helper()
	d, err := New("test", opts, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func msg(id string) *drivers.Outbound {
	text := "Your code is 123456"
	return &drivers.Outbound{
		ID:        id,
		To:        "+33612345678",
		Text:      text,
		Segments:  drivers.SegmentPlan{Encoding: drivers.GSM7, Parts: []string{text}},
		ExpiresAt: time.Now().Add(time.Hour),
		Attempt:   1,
	}
}

func guardCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// driverErr returns err as a *drivers.Error, failing when it is not one.
func driverErr(t *testing.T, err error) *drivers.Error {
	t.Helper()
	var de *drivers.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *drivers.Error", err, err)
	}
	return de
}

func wantErr(t *testing.T, err error, class drivers.Class, code string) {
	t.Helper()
	de := driverErr(t, err)
	if de.Class != class || de.Code != code {
		t.Errorf("error = %s/%s, want %s/%s", de.Class, de.Code, class, code)
	}
}

type result struct {
	r   drivers.Receipt
	err error
}

func goSend(ctx context.Context, d *Driver, m *drivers.Outbound) <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := d.Send(ctx, m)
		ch <- result{r, err}
	}()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatal("nothing received within the hang guard")
		var zero T
		return zero
	}
}

func status(t *testing.T, d *Driver, id, ref string) drivers.Status {
	t.Helper()
	st, err := d.Status(context.Background(), id, ref)
	if err != nil {
		t.Fatalf("Status(%q, %q): %v", id, ref, err)
	}
	return st
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"full mix", Options{Transient: 0.5, Permanent: 0.25, Uncertain: 0.25, Undelivered: 1}, true},
		{"negative", Options{Transient: -0.1}, false},
		{"above one", Options{Undelivered: 1.5}, false},
		{"sum above one", Options{Transient: 0.5, Permanent: 0.5, Uncertain: 0.1}, false},
		{"negative latency", Options{Latency: -time.Second}, false},
		{"negative delivery delay", Options{DeliveryDelay: -time.Second}, false},
		{"negative buffer", Options{EventBuffer: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New("v", tt.opts, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New error = %v, want ok=%v", err, tt.ok)
			}
			if d != nil {
				_ = d.Close()
			}
		})
	}
	if _, err := New("", Options{}, nil); err == nil {
		t.Error("New with an empty name succeeded")
	}
}

func TestOutcomeScripted(t *testing.T) {
	// Bands: transient [0, .1), permanent [.1, .3), uncertain [.3, .6).
	tests := []struct {
		name       string
		draws      []float64
		wantClass  drivers.Class // empty for success
		wantCode   string
		wantLeft   bool
		wantStatus drivers.SendState
	}{
		{"transient", []float64{0.05}, drivers.ClassTransient, CodeTransient, false, drivers.SendNotFound},
		{"transient band start", []float64{0}, drivers.ClassTransient, CodeTransient, false, drivers.SendNotFound},
		{"permanent band start", []float64{0.1}, drivers.ClassPermanent, CodePermanent, false, drivers.SendNotFound},
		{"permanent", []float64{0.29}, drivers.ClassPermanent, CodePermanent, false, drivers.SendNotFound},
		{"uncertain and left", []float64{0.31, 0.49}, drivers.ClassUncertain, CodeUncertain, true, drivers.SendSent},
		{"uncertain not left", []float64{0.59, 0.5}, drivers.ClassUncertain, CodeUncertain, false, drivers.SendNotFound},
		{"success low", []float64{0.61}, "", "", true, drivers.SendSent},
		{"success", []float64{0.99}, "", "", true, drivers.SendSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{queue: tt.draws, fallback: -1}
			d := newDriver(t, Options{Transient: 0.1, Permanent: 0.2, Uncertain: 0.3, Rand: s.next})
			m := msg("m1")
			r, err := d.Send(context.Background(), m)
			if tt.wantClass == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if r.Ref != "sim-1" || r.Parts != 1 || r.DeliveryReports {
					t.Errorf("receipt = %+v, want {sim-1 1 false}", r)
				}
			} else {
				wantErr(t, err, tt.wantClass, tt.wantCode)
			}
			wantCount := 0
			if tt.wantLeft {
				wantCount = 1
			}
			if got := d.SentCount(m.ID); got != wantCount {
				t.Errorf("SentCount = %d, want %d", got, wantCount)
			}
			if got := len(d.Sent()); got != wantCount {
				t.Errorf("len(Sent()) = %d, want %d", got, wantCount)
			}
			if got := status(t, d, m.ID, "").State; got != tt.wantStatus {
				t.Errorf("Status = %q, want %q", got, tt.wantStatus)
			}
			if len(s.queue) != 0 {
				t.Errorf("%d scripted draws left unused", len(s.queue))
			}
		})
	}
}

// outcomeCodes sends n messages and returns the code of each outcome ("ok"
// for success).
func outcomeCodes(t *testing.T, d *Driver, n int) []string {
	t.Helper()
	codes := make([]string, n)
	for i := range n {
		_, err := d.Send(context.Background(), msg(fmt.Sprintf("m%d", i)))
		if err == nil {
			codes[i] = "ok"
			continue
		}
		codes[i] = driverErr(t, err).Code
	}
	return codes
}

func TestOutcomeMixSeeded(t *testing.T) {
	const n = 1000
	opts := Options{Transient: 0.1, Permanent: 0.2, Uncertain: 0.3, Seed: 42}
	a := outcomeCodes(t, newDriver(t, opts), n)
	b := outcomeCodes(t, newDriver(t, opts), n)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcome at send %d: %s vs %s", i, a[i], b[i])
		}
	}
	counts := map[string]int{}
	for _, c := range a {
		counts[c]++
	}
	// Wide bounds: the expected counts are 100, 200, 300 and 400.
	bounds := map[string][2]int{
		CodeTransient: {50, 150},
		CodePermanent: {140, 260},
		CodeUncertain: {230, 370},
		"ok":          {320, 480},
	}
	for code, b := range bounds {
		if got := counts[code]; got < b[0] || got > b[1] {
			t.Errorf("%s: %d of %d sends, want between %d and %d", code, got, n, b[0], b[1])
		}
	}

	other := outcomeCodes(t, newDriver(t, Options{Transient: 0.1, Permanent: 0.2, Uncertain: 0.3, Seed: 43}), n)
	same := true
	for i := range a {
		same = same && a[i] == other[i]
	}
	if same {
		t.Error("a different seed produced the same 1000 outcomes")
	}
}

func TestUncertainLeftAboutHalf(t *testing.T) {
	const n = 1000
	d := newDriver(t, Options{Uncertain: 1, Seed: 7})
	for i := range n {
		_, err := d.Send(context.Background(), msg(fmt.Sprintf("u%d", i)))
		wantErr(t, err, drivers.ClassUncertain, CodeUncertain)
	}
	if left := len(d.Sent()); left < 400 || left > 600 {
		t.Errorf("%d of %d uncertain sends left, want about half", left, n)
	}
	for _, r := range d.Sent() {
		if !r.Uncertain {
			t.Fatalf("record %s not marked uncertain", r.ID)
		}
	}
}

func TestOutbox(t *testing.T) {
	tests := []struct {
		name     string
		withText bool
	}{
		{"without text", false},
		{"with text", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "outbox.jsonl")
			// ok, permanent, uncertain-and-left, uncertain-not-left, ok.
			s := &script{queue: []float64{0.9, 0.15, 0.25, 0.1, 0.25, 0.9, 0.9}}
			d, err := New("outbox", Options{
				Transient: 0.1, Permanent: 0.1, Uncertain: 0.1,
				OutboxPath: path, OutboxText: tt.withText, Rand: s.next,
			}, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for i := range 5 {
				m := msg(fmt.Sprintf("m%d", i))
				if i == 4 {
					m.Segments.Parts = []string{"a", "b", "c"}
				}
				_, _ = d.Send(context.Background(), m)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read outbox: %v", err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("outbox mode = %v (err %v), want 0600", fi.Mode().Perm(), err)
			}
			if got := bytes.Contains(raw, []byte("Your code")); got != tt.withText {
				t.Errorf("outbox contains the text: %v, want %v", got, tt.withText)
			}
			var lines []map[string]any
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				var l map[string]any
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("outbox line %q: %v", sc.Text(), err)
				}
				lines = append(lines, l)
			}
			want := []struct {
				id, ref string
				parts   float64
			}{{"m0", "sim-1", 1}, {"m2", "sim-2", 1}, {"m4", "sim-3", 3}}
			if len(lines) != len(want) {
				t.Fatalf("outbox has %d lines, want %d:\n%s", len(lines), len(want), raw)
			}
			for i, w := range want {
				l := lines[i]
				if l["id"] != w.id || l["ref"] != w.ref || l["parts"] != w.parts || l["to"] != "+33612345678" {
					t.Errorf("line %d = %v, want id %s ref %s parts %v", i, l, w.id, w.ref, w.parts)
				}
				if at, _ := l["at"].(string); at == "" {
					t.Errorf("line %d has no at", i)
				}
				_, hasText := l["text"]
				if hasText != tt.withText {
					t.Errorf("line %d has text: %v, want %v", i, hasText, tt.withText)
				}
			}
			for _, r := range d.Sent() {
				if (r.Text != "") != tt.withText {
					t.Errorf("Sent() record %s text kept = %v, want %v", r.ID, r.Text != "", tt.withText)
				}
			}
		})
	}
}

func TestIdempotentResend(t *testing.T) {
	tests := []struct {
		name  string
		draws []float64 // for the first send; the second draws 0.9 (success)
		first drivers.Class
	}{
		{"after success", []float64{0.9}, ""},
		{"after uncertain that left", []float64{0.25, 0.1}, drivers.ClassUncertain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{queue: tt.draws, fallback: 0.9}
			d := newDriver(t, Options{Transient: 0.1, Permanent: 0.1, Uncertain: 0.1, DeliveryReports: true, DeliveryDelay: time.Hour, Rand: s.next})
			m := msg("dup")
			r1, err := d.Send(context.Background(), m)
			if tt.first == "" && err != nil {
				t.Fatalf("first Send: %v", err)
			}
			if tt.first != "" {
				wantErr(t, err, tt.first, CodeUncertain)
				r1 = drivers.Receipt{Ref: "sim-1", Parts: 1, DeliveryReports: true}
			}
			r2, err := d.Send(context.Background(), m)
			if err != nil {
				t.Fatalf("second Send: %v", err)
			}
			if r2 != r1 {
				t.Errorf("second receipt = %+v, want %+v", r2, r1)
			}
			if got := d.SentCount(m.ID); got != 1 {
				t.Errorf("SentCount = %d, want 1", got)
			}
			if got := len(d.Sent()); got != 1 {
				t.Errorf("len(Sent()) = %d, want 1", got)
			}
		})
	}

	t.Run("retry after transient sends once", func(t *testing.T) {
		s := &script{queue: []float64{0.05}, fallback: 0.9}
		d := newDriver(t, Options{Transient: 0.1, Rand: s.next})
		m := msg("retry")
		_, err := d.Send(context.Background(), m)
		wantErr(t, err, drivers.ClassTransient, CodeTransient)
		if _, err := d.Send(context.Background(), m); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if got := d.SentCount(m.ID); got != 1 {
			t.Errorf("SentCount = %d, want 1", got)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		d := newDriver(t, Options{})
		d.Hold()
		const n = 20
		results := make([]<-chan result, n)
		for i := range results {
			results[i] = goSend(context.Background(), d, msg("same"))
		}
		if err := d.WaitHeld(guardCtx(t), n); err != nil {
			t.Fatal(err)
		}
		d.Release()
		for _, ch := range results {
			res := recv(t, ch)
			if res.err != nil || res.r.Ref != "sim-1" {
				t.Errorf("Send = %+v, %v; want ref sim-1", res.r, res.err)
			}
		}
		if got := d.SentCount("same"); got != 1 {
			t.Errorf("SentCount = %d, want 1", got)
		}
	})
}

func TestDeliveryReports(t *testing.T) {
	tests := []struct {
		name       string
		draw       float64 // the undelivered draw; Undelivered is 0.3
		delivered  bool
		wantStatus drivers.SendState
		wantReason string
	}{
		{"delivered", 0.3, true, drivers.SendDelivered, ""},
		{"undelivered", 0.29, false, drivers.SendFailed, CodeUndelivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{queue: []float64{0.9, tt.draw}}
			d := newDriver(t, Options{DeliveryReports: true, Undelivered: 0.3, Rand: s.next})
			m := msg("dr")
			r, err := d.Send(context.Background(), m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !r.DeliveryReports {
				t.Error("Receipt.DeliveryReports = false, want true")
			}
			ev := recv(t, d.Events())
			if ev.Kind != drivers.EventDelivery || ev.ID != m.ID || ev.Ref != r.Ref ||
				ev.Delivered != tt.delivered || ev.Reason != tt.wantReason || ev.At.IsZero() {
				t.Errorf("event = %+v, want delivery of %s/%s delivered=%v reason %q", ev, m.ID, r.Ref, tt.delivered, tt.wantReason)
			}
			st := status(t, d, m.ID, r.Ref)
			if st.State != tt.wantStatus || st.Reason != tt.wantReason || st.Ref != r.Ref {
				t.Errorf("Status = %+v, want %s reason %q", st, tt.wantStatus, tt.wantReason)
			}
		})
	}

	t.Run("off", func(t *testing.T) {
		d := newDriver(t, Options{})
		r, err := d.Send(context.Background(), msg("quiet"))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r.DeliveryReports {
			t.Error("Receipt.DeliveryReports = true, want false")
		}
		d.mu.Lock()
		pending := len(d.timers)
		d.mu.Unlock()
		if pending != 0 {
			t.Errorf("%d delivery reports scheduled, want none", pending)
		}
		d.InjectInbound("+33700000001", "marker")
		if ev := recv(t, d.Events()); ev.Kind != drivers.EventInbound {
			t.Errorf("first event = %+v, want the inbound marker", ev)
		}
		if got := status(t, d, "quiet", "").State; got != drivers.SendSent {
			t.Errorf("Status = %q, want sent", got)
		}
	})
}

func TestInjectInbound(t *testing.T) {
	d := newDriver(t, Options{})
	d.InjectInbound("+33612345678", "STOP")
	ev := recv(t, d.Events())
	if ev.Kind != drivers.EventInbound || ev.From != "+33612345678" || ev.Text != "STOP" || ev.At.IsZero() {
		t.Errorf("event = %+v, want inbound STOP from +33612345678", ev)
	}
}

func TestEventBufferFullDrops(t *testing.T) {
	d := newDriver(t, Options{EventBuffer: 2})
	for i := range 5 {
		// Would block forever if emit did not drop.
		d.InjectInbound("+33612345678", fmt.Sprintf("m%d", i))
	}
	if got := d.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	for _, want := range []string{"m0", "m1"} {
		if ev := recv(t, d.Events()); ev.Text != want {
			t.Errorf("event text = %q, want %q", ev.Text, want)
		}
	}
}

func TestHoldRelease(t *testing.T) {
	d := newDriver(t, Options{})
	d.Hold()
	ids := []string{"h1", "h2", "h3"}
	results := make(map[string]<-chan result)
	for _, id := range ids {
		results[id] = goSend(context.Background(), d, msg(id))
	}
	if err := d.WaitHeld(guardCtx(t), len(ids)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := d.SentCount(id); got != 0 {
			t.Errorf("held %s: SentCount = %d, want 0", id, got)
		}
	}
	if got := len(d.Sent()); got != 0 {
		t.Errorf("held: len(Sent()) = %d, want 0", got)
	}
	d.Release()
	for _, id := range ids {
		if res := recv(t, results[id]); res.err != nil {
			t.Errorf("%s: %v", id, res.err)
		}
		if got := d.SentCount(id); got != 1 {
			t.Errorf("released %s: SentCount = %d, want 1", id, got)
		}
	}
	if err := d.WaitHeld(guardCtx(t), 0); err != nil {
		t.Errorf("WaitHeld(0): %v", err)
	}
}

func TestHeldSendEnds(t *testing.T) {
	tests := []struct {
		name     string
		end      func(d *Driver, cancel context.CancelFunc)
		wantCode string
		wantIs   error
	}{
		{"cancel", func(_ *Driver, cancel context.CancelFunc) { cancel() }, CodeCancelled, context.Canceled},
		{"close", func(d *Driver, _ context.CancelFunc) { _ = d.Close() }, CodeClosed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Options{})
			d.Hold()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := goSend(ctx, d, msg("held"))
			if err := d.WaitHeld(guardCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			tt.end(d, cancel)
			res := recv(t, ch)
			wantErr(t, res.err, drivers.ClassTransient, tt.wantCode)
			if tt.wantIs != nil && !errors.Is(res.err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", res.err, tt.wantIs)
			}
			if got := d.SentCount("held"); got != 0 {
				t.Errorf("SentCount = %d, want 0", got)
			}
		})
	}
}

func TestLatencyInterrupted(t *testing.T) {
	tests := []struct {
		name     string
		end      func(d *Driver, cancel context.CancelFunc)
		wantCode string
	}{
		{"cancel", func(_ *Driver, cancel context.CancelFunc) { cancel() }, CodeCancelled},
		{"close", func(d *Driver, _ context.CancelFunc) { _ = d.Close() }, CodeClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Options{Latency: time.Hour})
			waiting := make(chan struct{})
			d.inLatency = func() { close(waiting) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := goSend(ctx, d, msg("slow"))
			recv(t, waiting)
			tt.end(d, cancel)
			res := recv(t, ch)
			wantErr(t, res.err, drivers.ClassTransient, tt.wantCode)
			if got := d.SentCount("slow"); got != 0 {
				t.Errorf("SentCount = %d, want 0", got)
			}
		})
	}
}

func TestExpired(t *testing.T) {
	// Latency is long: an expired message must be refused before waiting.
	d := newDriver(t, Options{Latency: time.Hour})
	m := msg("old")
	m.ExpiresAt = time.Now().Add(-time.Second)
	res := recv(t, goSend(context.Background(), d, m))
	wantErr(t, res.err, drivers.ClassPermanent, CodeExpired)
	if got := d.SentCount(m.ID); got != 0 {
		t.Errorf("SentCount = %d, want 0", got)
	}
	if got := status(t, d, m.ID, "").State; got != drivers.SendNotFound {
		t.Errorf("Status = %q, want not_found", got)
	}
}

func TestExpiredResendOfSentMessage(t *testing.T) {
	d := newDriver(t, Options{})
	m := msg("sent-then-expired")
	r1, err := d.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	m.ExpiresAt = time.Now().Add(-time.Second)
	r2, err := d.Send(context.Background(), m)
	if err != nil || r2 != r1 {
		t.Errorf("resend after expiry = %+v, %v; want the earlier receipt %+v: the message did leave", r2, err, r1)
	}
}

func TestDownAndUp(t *testing.T) {
	d := newDriver(t, Options{})
	ctx := context.Background()

	h, err := d.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	if h.State != drivers.StateReady || h.Battery == nil || h.Battery.Percent != 87 || !h.Battery.Charging ||
		h.SignalDBm == nil || *h.SignalDBm != -71 || h.SIM != "ready" || h.Operator != "SIM Network" || h.CheckedAt.IsZero() {
		t.Errorf("Health = %+v, want the ready simulated phone", h)
	}

	d.SetDown("usb unplugged")
	_, err = d.Send(ctx, msg("while-down"))
	wantErr(t, err, drivers.ClassTransient, CodeDeviceDown)
	if h, _ := d.Health(ctx); h.State != drivers.StateDown || h.Detail != "usb unplugged" || h.LastError != "usb unplugged" {
		t.Errorf("Health while down = %+v", h)
	}
	if _, err := d.Status(ctx, "while-down", ""); err == nil {
		t.Error("Status while down returned no error")
	}
	if got := d.SentCount("while-down"); got != 0 {
		t.Errorf("SentCount = %d, want 0", got)
	}

	d.SetUp()
	if _, err := d.Send(ctx, msg("while-down")); err != nil {
		t.Errorf("Send after SetUp: %v", err)
	}
	if h, _ := d.Health(ctx); h.State != drivers.StateReady {
		t.Errorf("Health after SetUp = %q, want ready", h.State)
	}
}

func TestStatusLookup(t *testing.T) {
	d := newDriver(t, Options{})
	r, err := d.Send(context.Background(), msg("known"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	tests := []struct {
		name, id, ref string
		want          drivers.SendState
	}{
		{"by id", "known", "", drivers.SendSent},
		{"by ref", "", r.Ref, drivers.SendSent},
		{"unknown id, known ref", "other", r.Ref, drivers.SendSent},
		{"unknown", "other", "sim-99", drivers.SendNotFound},
		{"empty", "", "", drivers.SendNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status(t, d, tt.id, tt.ref).State; got != tt.want {
				t.Errorf("Status = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParts(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  int
	}{
		{"no plan", nil, 1},
		{"one", []string{"a"}, 1},
		{"three", []string{"a", "b", "c"}, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Options{})
			m := msg(fmt.Sprintf("p%d", i))
			m.Segments.Parts = tt.parts
			r, err := d.Send(context.Background(), m)
			if err != nil || r.Parts != tt.want {
				t.Errorf("Send = %+v, %v; want %d parts", r, err, tt.want)
			}
		})
	}
}

func TestCloseStopsReportsWithoutLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	d, err := New("leak", Options{DeliveryReports: true, DeliveryDelay: time.Hour, Latency: time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i := range 5 {
		if _, err := d.Send(context.Background(), msg(fmt.Sprintf("l%d", i))); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	d.Hold()
	held := goSend(context.Background(), d, msg("parked"))
	if err := d.WaitHeld(guardCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantErr(t, recv(t, held).err, drivers.ClassTransient, CodeClosed)
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	d.InjectInbound("+33612345678", "after close") // must not panic
	for ev := range d.Events() {
		t.Errorf("event after Close: %+v", ev)
	}
	if h, _ := d.Health(context.Background()); h.State != drivers.StateDown {
		t.Errorf("Health after Close = %q, want down", h.State)
	}
	_, err = d.Send(context.Background(), msg("late"))
	wantErr(t, err, drivers.ClassTransient, CodeClosed)
	drivertest.CheckGoroutines(t, before, 0)
}

// TestLogsHideSecrets checks that no log line carries a message text or a
// full phone number.
func TestLogsHideSecrets(t *testing.T) {
	var buf safeBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &script{queue: []float64{0.9, 0.9, 0.05, 0.15, 0.25, 0.1}, fallback: 0.9}
	d, err := New("logs", Options{
		Transient: 0.1, Permanent: 0.1, Uncertain: 0.1,
		DeliveryReports: true, Undelivered: 0.5, EventBuffer: 1, Rand: s.next,
	}, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i := range 4 {
		_, _ = d.Send(context.Background(), msg(fmt.Sprintf("s%d", i)))
	}
	d.InjectInbound("+33612345678", "inbound secret 654321")
	d.InjectInbound("+33612345678", "inbound secret 654321")
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := buf.String()
	for _, secret := range []string{"Your code", "inbound secret", "+33612345678"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"+336******78", "event buffer full"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func BenchmarkSend(b *testing.B) {
	d, err := New("bench", Options{DeliveryReports: true, EventBuffer: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	m := msg("")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Send(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOutboxIsMemoryAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	first, err := New("sim", Options{OutboxPath: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := &drivers.Outbound{ID: ulid.Make().String(), To: "+33612345678", Text: "x", ExpiresAt: time.Now().Add(time.Hour)}
	rec, err := first.Send(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Close()

	second, err := New("sim", Options{OutboxPath: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	st, err := second.Status(ctx, msg.ID, "")
	if err != nil || st.State != drivers.SendSent || st.Ref != rec.Ref {
		t.Fatalf("status after restart: %+v %v", st, err)
	}
	again, err := second.Send(ctx, msg)
	if err != nil || again.Ref != rec.Ref || second.SentCount(msg.ID) != 0 {
		t.Fatalf("resend after restart: %+v %v sent %d", again, err, second.SentCount(msg.ID))
	}
	other, _ := second.Send(ctx, &drivers.Outbound{ID: ulid.Make().String(), To: "+33612345678", ExpiresAt: time.Now().Add(time.Hour)})
	if other.Ref == rec.Ref {
		t.Fatal("reference reused after restart")
	}
}

func TestNoMemoryOfEarlierRunsWithoutOutbox(t *testing.T) {
	old := ulid.MustNew(ulid.Timestamp(time.Now().Add(-time.Minute)), ulid.DefaultEntropy()).String()
	d, err := New("sim", Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Status(context.Background(), old, "")
	var de *drivers.Error
	if !errors.As(err, &de) || de.Code != "no_memory" {
		t.Fatalf("status of a message from before the start: %v", err)
	}
	st, err := d.Status(context.Background(), ulid.Make().String(), "")
	if err != nil || st.State != drivers.SendNotFound {
		t.Fatalf("status of a new unknown message: %+v %v", st, err)
	}
}

func TestDiagnose(t *testing.T) {
	d, err := New("sim", Options{DeliveryReports: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Diagnose(context.Background()); !got.OK || len(got.Checks) == 0 {
		t.Fatalf("ready sim: %+v", got)
	}
	d.SetDown("unplugged")
	if got := d.Diagnose(context.Background()); got.OK || got.Checks[0].Status != drivers.CheckFail {
		t.Fatalf("down sim: %+v", got)
	}
}
