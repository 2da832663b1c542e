//go:build unix

package modem

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/policy"
	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
	"smsgw/drivers/modem/modemsim"
)

// finalCounter is a log handler that signals each message the queue logs
// as reaching a final state, so that the benchmark learns of completions
// without polling the store. It formats nothing.
type finalCounter struct {
	msg  string
	done chan struct{}
}

func (f *finalCounter) Enabled(context.Context, slog.Level) bool { return true }
func (f *finalCounter) WithAttrs([]slog.Attr) slog.Handler       { return f }
func (f *finalCounter) WithGroup(string) slog.Handler            { return f }

func (f *finalCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == f.msg {
		f.done <- struct{}{}
	}
	return nil
}

// cpuTime is the user plus system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQueueModemsim pushes b.N one-part messages through the whole
// send path: store.Admit, the dispatcher's lease, render, the opt-out
// check, the modem driver's AT+CMGS exchange with a simulated modem over
// an in-memory pipe, the outcome transaction and, with reports, the
// +CDSI / AT+CMGR / AT+CMGD round trip and the delivered transaction.
//
// cpu-us/msg is the process's user+system CPU time (getrusage) divided by
// b.N. The simulated modem runs in the same process, so its share (AT
// parsing, PDU decoding, report encoding) is included: the figure is an
// upper bound of the daemon's own cost.
//
// window is how many messages are outstanding at once: 1 measures a
// message alone, larger windows a backlog the dispatcher leases from.
func BenchmarkQueueModemsim(b *testing.B) {
	for _, bb := range []struct {
		name    string
		reports bool
		window  int
	}{
		{"reports/window=1", true, 1},
		{"reports/window=64", true, 64},
		{"no-reports/window=1", false, 1},
		{"no-reports/window=64", false, 64},
	} {
		b.Run(bb.name, func(b *testing.B) { benchQueueModemsim(b, bb.reports, bb.window) })
	}
}

func benchQueueModemsim(b *testing.B, reports bool, window int) {
	const text = "Your code is 123456. It expires in 5 minutes."
	final := store.Delivered
	if !reports {
		final = store.Sent
	}
	counter := &finalCounter{msg: "message " + string(final), done: make(chan struct{}, 1024)}
	log := slog.New(counter)

	m := modemsim.New(modemsim.Options{})
	o := fast(m)
	o.DeliveryReports = reports
	drv, err := New(context.Background(), o, log)
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	plan := policy.Plan(text)
	q, err := queue.New(queue.Options{
		Store:   st,
		Devices: []queue.Device{{Name: "modem", Type: "modem", Driver: drv, Concurrency: 1}},
		Render: func(*store.Message) (string, drivers.SegmentPlan, error) {
			return text, plan, nil
		},
		SendTimeout:    time.Minute,
		HealthInterval: time.Hour,
		Log:            log,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = q.Run(ctx)
	}()
	defer func() {
		cancel()
		<-stopped
	}()

	submit := func() {
		now := time.Now()
		msg := &store.Message{
			ID: ulid.Make().String(), Client: "local", To: "+33612345678", Purpose: "otp", Template: "otp_code",
			Params: map[string]string{"code": "123456"}, SecretParams: []string{"code"},
			MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(time.Hour), Parts: 1,
		}
		if err := q.Submit(context.Background(), msg, nil, store.Admission{}); err != nil {
			b.Fatal(err)
		}
	}
	hang := time.NewTimer(5 * time.Minute) // a hang guard, not a measurement
	defer hang.Stop()

	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	submitted, finished := 0, 0
	for ; submitted < min(window, b.N); submitted++ {
		submit()
	}
	for finished < b.N {
		select {
		case <-counter.done:
		case <-hang.C:
			b.Fatalf("%d of %d messages reached %s (hang guard)", finished, b.N, final)
		}
		finished++
		if submitted < b.N {
			submit()
			submitted++
		}
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")

	if sent := len(m.Sent()); sent != b.N {
		b.Fatalf("modem accepted %d messages, want %d", sent, b.N)
	}
}
