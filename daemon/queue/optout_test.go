package queue

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/policy"
	"smsgw/daemon/store"
	"smsgw/drivers"
)

// TestOptOutWhileQueuedIsNotSent accepts a message, then opts its
// recipient out just before the send: the message fails with
// recipient_opted_out and never reaches the driver.
func TestOptOutWhileQueuedIsNotSent(t *testing.T) {
	drv := newFake()
	rendering := make(chan struct{})
	proceed := make(chan struct{})
	h := newHarness(t, drv, func(o *Options) {
		o.Render = func(m *store.Message) (string, drivers.SegmentPlan, error) {
			rendering <- struct{}{}
			<-proceed
			return "hello", drivers.SegmentPlan{Parts: []string{"hello"}}, nil
		}
	})
	m := h.submit(time.Hour)
	h.run()
	select {
	case <-rendering:
	case <-time.After(10 * time.Second):
		t.Fatal("the message was never leased")
	}
	if _, err := h.st.SetOptOut(context.Background(), m.To, true, "test", "stop"); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	got := h.waitState(m.ID, store.Failed)
	if got.LastError == nil || got.LastError.Code != CodeRecipientOptedOut {
		t.Fatalf("last error %+v, want %s", got.LastError, CodeRecipientOptedOut)
	}
	if n := drv.count(m.ID); n != 0 {
		t.Fatalf("driver got the message %d times, want 0", n)
	}
}

// TestInboundKeywords feeds inbound messages through a driver's events:
// STOP opts out (and queues the configured confirmation, which is still
// sent), START opts back in, anything else changes nothing.
func TestInboundKeywords(t *testing.T) {
	drv := newFake()
	type reply struct {
		kw policy.Keyword
		id string
	}
	replies := make(chan reply, 4)
	h := newHarness(t, eventsDriver{drv}, func(o *Options) {
		o.Reply = func(to string, kw policy.Keyword, now time.Time) *store.Message {
			m := h0Message(to, now)
			m.OptOutExempt = kw == policy.KeywordStop
			replies <- reply{kw, m.ID}
			return m
		}
	})
	h.run()
	ctx := context.Background()
	const from = "+33612345678"
	steps := []struct {
		text string
		out  bool
		kw   policy.Keyword
	}{
		{"hello there", false, policy.NoKeyword},
		{"  Stop ", true, policy.KeywordStop},
		{"unstop", false, policy.KeywordStart},
		{"OPT OUT", true, policy.KeywordStop},
	}
	var exempt []string
	for _, st := range steps {
		drv.events <- drivers.Event{Kind: drivers.EventInbound, From: from, Text: st.text}
		if st.kw != policy.NoKeyword {
			select {
			case r := <-replies:
				if r.kw != st.kw {
					t.Fatalf("%q: reply for %v, want %v", st.text, r.kw, st.kw)
				}
				if r.kw == policy.KeywordStop {
					exempt = append(exempt, r.id)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%q: no reply", st.text)
			}
		}
		// The journal entry is written before the reply is built.
		out, err := h.st.IsOptedOut(ctx, from)
		if err != nil || out != st.out {
			t.Fatalf("after %q: opted out = %v (%v), want %v", st.text, out, err, st.out)
		}
	}
	j, err := h.st.Journal(ctx, time.Time{}, 10)
	if err != nil || len(j) != 3 || j[0].Keyword != "stop" || j[0].Source != "inbound:dev" {
		t.Fatalf("journal %+v %v", j, err)
	}
	// The STOP confirmations are exempt: they are sent although the
	// number is opted out.
	for _, id := range exempt {
		h.waitCreated(id)
		h.waitState(id, store.Sent)
	}
}

// waitCreated waits until message id exists; the deadline guards a hang.
func (h *harness) waitCreated(id string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := h.st.Get(context.Background(), id); err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("message %s never created", id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func h0Message(to string, now time.Time) *store.Message {
	return &store.Message{
		ID: ulid.Make().String(), Client: "smsgw", To: to, Purpose: policy.ReplyPurpose, Template: "stop_reply",
		MaxAttempts: 3, CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(time.Hour), Parts: 1,
	}
}
