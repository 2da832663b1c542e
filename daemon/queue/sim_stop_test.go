package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/logging"
	"smsgw/daemon/policy"
	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
	"smsgw/drivers/sim"
)

// stopHangGuard bounds every wait below; it turns a hang into a failure
// and asserts nothing about speed.
const stopHangGuard = 15 * time.Second

const (
	stopTarget  = "+33612345678" // texts the keyword; has a message queued
	stopBlocker = "+33612345679" // its message occupies the phone meanwhile
	stopMarker  = "+33612345670" // texts STOP last, to show the events before it were applied
)

func stopConfig() *config.Config {
	return &config.Config{
		Policy: config.Policy{
			OptOut: config.OptOut{StopReply: "stop_reply"},
			Purposes: map[string]config.Purpose{
				"otp": {TTL: config.Duration{Duration: 5 * time.Minute}, Templates: []string{"otp_code"}},
			},
			Templates: map[string]config.Template{
				"otp_code": {
					Text:   "Your code is {{.code}}.",
					Params: map[string]config.Param{"code": {Secret: true, Pattern: "[0-9]{4,8}"}},
				},
				"stop_reply": {Text: "You will get no more messages. Text START to opt back in."},
			},
		},
		Queue: config.Queue{MaxAttempts: 3},
	}
}

// stopRig is the daemon's wiring of policy, store, queue and the
// simulated phone: inbound keywords read with the policy's number rules,
// confirmations built by the policy, messages rendered from templates.
type stopRig struct {
	t   *testing.T
	cfg *config.Config
	pol *policy.Policy
	st  *store.Store
	q   *queue.Queue
	sim *sim.Driver
}

func newStopRig(t *testing.T) *stopRig {
	t.Helper()
	r := &stopRig{t: t, cfg: stopConfig()}
	r.pol = policy.New(r.cfg)
	var err error
	if r.st, err = store.Open(store.Options{InMemory: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.st.Close() })
	if r.sim, err = sim.New("sim", sim.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.sim.Close() })
	r.q, err = queue.New(queue.Options{
		Store: r.st,
		// One send at a time: while one is parked in the phone, every
		// other message stays queued.
		Devices: []queue.Device{{Name: "sim", Type: "sim", Driver: r.sim, Concurrency: 1}},
		Render: func(m *store.Message) (string, drivers.SegmentPlan, error) {
			tpl, ok := r.cfg.Policy.Templates[m.Template]
			if !ok {
				return "", drivers.SegmentPlan{}, fmt.Errorf("template %q is not configured", m.Template)
			}
			return policy.Render(tpl, m.Params)
		},
		MaxAttempts:    3,
		BackoffInitial: time.Millisecond,
		BackoffMax:     time.Millisecond,
		Jitter:         func() float64 { return 0 },
		SendTimeout:    stopHangGuard,
		HealthInterval: time.Hour,
		Numbers:        r.pol.Numbers(),
		Reply:          r.pol.Reply,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *stopRig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.q.Run(ctx)
	}()
	// Runs before the sim's Close (cleanups run last first).
	r.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// submit passes an OTP request through both policy gates, as the API does.
func (r *stopRig) submit(to string) (*store.Message, error) {
	r.t.Helper()
	m, ref := r.pol.Prepare(client.SubmitRequest{To: to, Purpose: "otp", Params: map[string]string{"code": "123456"}}, "local", time.Now())
	if ref != nil {
		r.t.Fatalf("policy refused %s: %v", to, ref)
	}
	return m, r.q.Submit(context.Background(), m, nil, r.pol.Admission(m))
}

func (r *stopRig) mustSubmit(to string) *store.Message {
	r.t.Helper()
	m, err := r.submit(to)
	if err != nil {
		r.t.Fatalf("submit to %s: %v", to, err)
	}
	return m
}

// waitUntil polls cond, failing after the hang guard.
func (r *stopRig) waitUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(stopHangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *stopRig) get(id string) *store.Message {
	r.t.Helper()
	m, err := r.st.Get(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *stopRig) waitTerminal(id string) *store.Message {
	r.t.Helper()
	var m *store.Message
	r.waitUntil("message "+id+" is final", func() bool {
		m = r.get(id)
		return m.State.Terminal() || m.State == store.Sent
	})
	return m
}

func (r *stopRig) optedOut(e164 string) bool {
	r.t.Helper()
	out, err := r.st.IsOptedOut(context.Background(), e164)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// sentTo lists the ids of the messages that left the phone for to.
func (r *stopRig) sentTo(to string) []string {
	var ids []string
	for _, rec := range r.sim.Sent() {
		if rec.To == to {
			ids = append(ids, rec.ID)
		}
	}
	return ids
}

// TestSimInboundStopCancelsQueuedMessage: a number texts a keyword to the
// simulated phone while a message to it waits in the queue. A stop keyword
// opts it out, the queued message ends failed with recipient_opted_out
// without reaching the phone, the STOP confirmation (exempt) is the one
// message the number still gets, and new submissions are refused. Any
// other text changes nothing.
func TestSimInboundStopCancelsQueuedMessage(t *testing.T) {
	tests := []struct {
		text string
		stop bool
	}{
		{"STOP", true},
		{" Opt-Out. ", true},
		{"unsubscribe", true},
		{"don't stop", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			r := newStopRig(t)
			ctx, cancel := context.WithTimeout(context.Background(), stopHangGuard)
			defer cancel()

			// Park a message to another number in the phone, so that
			// the next one stays queued.
			r.sim.Hold()
			blocker := r.mustSubmit(stopBlocker)
			r.run()
			if err := r.sim.WaitHeld(ctx, 1); err != nil {
				t.Fatal(err)
			}
			target := r.mustSubmit(stopTarget)
			if st := r.get(target.ID).State; st != store.Queued {
				t.Fatalf("target is %s before the keyword, want queued", st)
			}

			r.sim.InjectInbound(stopTarget, tt.text)
			// Events are applied in order: once the marker's STOP is
			// recorded, the text before it was handled too.
			r.sim.InjectInbound(stopMarker, "STOP")
			r.waitUntil("the marker is opted out", func() bool { return r.optedOut(stopMarker) })
			if got := r.optedOut(stopTarget); got != tt.stop {
				t.Fatalf("after %q the target is opted out = %v, want %v", tt.text, got, tt.stop)
			}
			if st := r.get(target.ID).State; st != store.Queued {
				t.Fatalf("target is %s after the keyword, want still queued", st)
			}

			r.sim.Release()
			if got := r.waitTerminal(blocker.ID); got.State != store.Sent {
				t.Fatalf("blocker ended %s, want sent", got.State)
			}
			got := r.waitTerminal(target.ID)
			if !tt.stop {
				if got.State != store.Sent {
					t.Fatalf("target ended %s after %q, want sent", got.State, tt.text)
				}
				if ids := r.sentTo(stopTarget); len(ids) != 1 || ids[0] != target.ID {
					t.Errorf("phone sent %v to the target, want only the message %s", ids, target.ID)
				}
				return
			}

			if got.State != store.Failed || got.LastError == nil || got.LastError.Code != queue.CodeRecipientOptedOut || got.Dead {
				t.Fatalf("target ended %s (dead %v) with %+v, want failed with %s", got.State, got.Dead, got.LastError, queue.CodeRecipientOptedOut)
			}
			if n := r.sim.SentCount(target.ID); n != 0 {
				t.Errorf("the phone sent the target message %d times, want 0", n)
			}
			// The confirmation is queued after the keyword and is exempt
			// from the opt-out: it is the only SMS the number gets.
			var ids []string
			r.waitUntil("the STOP confirmation leaves", func() bool { ids = r.sentTo(stopTarget); return len(ids) > 0 })
			reply := r.waitTerminal(ids[0])
			if len(ids) != 1 || ids[0] == target.ID || reply.Purpose != policy.ReplyPurpose || !reply.OptOutExempt || reply.State != store.Sent {
				t.Errorf("phone sent %v to the target (first: %s %s exempt=%v), want only the STOP confirmation", ids, reply.Purpose, reply.State, reply.OptOutExempt)
			}

			j, err := r.st.Journal(ctx, time.Time{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range j {
				if e.Source == "inbound:sim" && e.Keyword == "stop" && e.Kind == "opted_out" && e.Recipient == logging.MaskPhone(stopTarget) {
					found = true
				}
			}
			if !found {
				t.Errorf("no opted_out entry for %s from inbound:sim in the journal %+v", logging.MaskPhone(stopTarget), j)
			}

			if _, err := r.submit(stopTarget); !errors.Is(err, store.ErrOptedOut) {
				t.Errorf("a new message to the opted-out number: %v, want %v", err, store.ErrOptedOut)
			}
		})
	}
}
