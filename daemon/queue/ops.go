package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"smsgw/daemon/store"
	"smsgw/drivers"
)

// reapInterval is how often leases are checked for messages whose send's
// outcome could not be recorded.
const reapInterval = time.Minute

// reapLeases resolves messages whose lease ran out while no send of this
// process holds them: their outcome could not be recorded (the store
// refused the transition). They are resolved as at start-up: by asking the
// device, or held in "unknown"; never resent blindly.
func (q *Queue) reapLeases(ctx context.Context) {
	t := time.NewTicker(reapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.reapExpired(ctx); err != nil {
			q.log.Error("checking expired leases", slog.Any("err", err))
		}
	}
}

// reapExpired resolves the sending messages whose lease ran out and that no
// send of this process holds.
func (q *Queue) reapExpired(ctx context.Context) error {
	return q.resolveSending(ctx, func(m *store.Message) bool {
		return !m.LeaseUntil.IsZero() && q.now().After(m.LeaseUntil) && !q.inFlight(m.ID)
	})
}

// inFlight reports whether a send of this process holds the message.
func (q *Queue) inFlight(id string) bool {
	_, ok := q.sending.Load(id)
	return ok
}

// Recover resolves messages a crash left in "sending". A device that can
// say what became of a send is asked; otherwise the message is held in
// "unknown" for review, because resending could deliver it twice.
//
// It also restores each device's pacing history, so that a restart or a
// reload cannot let a device exceed its window.
func (q *Queue) Recover(ctx context.Context) error {
	now := q.now()
	for _, d := range q.order {
		ttl := d.pacingTTL()
		if ttl == 0 {
			continue
		}
		hist, err := q.st.SendHistory(ctx, d.Name, now.Add(-ttl))
		if err != nil {
			return fmt.Errorf("recover pacing of %s: %w", d.Name, err)
		}
		sent := make([]sentParts, len(hist))
		for i, h := range hist {
			sent[i] = sentParts{at: h.At, parts: h.Parts}
		}
		d.restore(sent)
	}
	return q.resolveSending(ctx, func(*store.Message) bool { return true })
}

// resolveSending resolves the messages in "sending" that pick selects.
func (q *Queue) resolveSending(ctx context.Context, pick func(*store.Message) bool) error {
	ids, err := q.st.InState(ctx, store.Sending)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, id := range ids {
		m, err := q.st.Get(ctx, id)
		if err != nil || !pick(m) {
			continue
		}
		to, reason, detail := store.Unknown, "crash_during_send", "the daemon stopped while sending; the device cannot be asked"
		mutate := func(*store.Message) {}
		if dev, ok := q.devices[m.Driver]; ok {
			if sq, ok := dev.Driver.(drivers.StatusQuerier); ok {
				to, reason, detail, mutate = q.resolve(ctx, sq, m)
			}
		}
		_, err = q.st.Transition(ctx, id, store.Change{From: []store.State{store.Sending}, To: to, Reason: reason, Detail: detail, Driver: m.Driver, Mutate: mutate})
		var se *store.StateError
		if errors.As(err, &se) {
			continue // its send finished meanwhile
		}
		if err != nil {
			return fmt.Errorf("recover %s: %w", id, err)
		}
		q.log.Warn("recovered message left in sending", slog.String("id", id), slog.String("driver", m.Driver), slog.String("state", string(to)), slog.String("reason", reason))
	}
	return nil
}

func (q *Queue) resolve(ctx context.Context, sq drivers.StatusQuerier, m *store.Message) (store.State, string, string, func(*store.Message)) {
	st, err := sq.Status(ctx, m.ID, m.DriverRef)
	if err != nil {
		return store.Unknown, "crash_during_send", "the device could not be asked: " + err.Error(), func(*store.Message) {}
	}
	setRef := func(m *store.Message) {
		if st.Ref != "" {
			m.DriverRef = st.Ref
		}
	}
	switch st.State {
	case drivers.SendNotFound:
		return store.Queued, "recovered_not_sent", "the device never received it; queued again", func(m *store.Message) { m.DueAt = q.now() }
	case drivers.SendPending, drivers.SendSent:
		return store.Sent, "recovered_sent", "the device has it", setRef
	case drivers.SendDelivered:
		return store.Delivered, "recovered_delivered", "the device reports it delivered", setRef
	case drivers.SendFailed:
		return store.Failed, "recovered_failed", st.Reason, func(m *store.Message) {
			setRef(m)
			m.LastError = &store.Failure{Class: string(drivers.ClassPermanent), Code: "device_failed", Detail: st.Reason}
		}
	}
	return store.Unknown, "crash_during_send", "the device gave an unknown status " + string(st.State), func(*store.Message) {}
}

// Submit stores a new message after the checks of adm and wakes the
// dispatcher. It returns a *store.DuplicateKeyError when the idempotency key
// was used before, and the refusals of store.Admit.
func (q *Queue) Submit(ctx context.Context, m *store.Message, idem *store.Idempotency, adm store.Admission) error {
	if err := q.st.Admit(ctx, m, idem, adm); err != nil {
		return err
	}
	q.Wake()
	return nil
}

// Message returns a message and its events.
func (q *Queue) Message(ctx context.Context, id string) (*store.Message, []store.Event, error) {
	m, err := q.st.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	evs, err := q.st.Events(ctx, id)
	return m, evs, err
}

// List lists messages.
func (q *Queue) List(ctx context.Context, f store.Filter) ([]*store.Message, string, error) {
	return q.st.List(ctx, f)
}

// Cancel cancels a message that is still queued.
func (q *Queue) Cancel(ctx context.Context, id string) (*store.Message, error) {
	return q.st.Transition(ctx, id, store.Change{From: []store.State{store.Queued}, To: store.Cancelled, Reason: "cancelled_by_client"})
}

// Requeue puts a dead-lettered or held message back in the queue with a
// fresh attempt budget. It refuses any other state, a message whose
// validity has passed, and one whose secret params were already erased.
// The checks run inside the transition's transaction, so a delivery report
// landing meanwhile cannot slip an erased message back into the queue.
func (q *Queue) Requeue(ctx context.Context, id string) (*store.Message, error) {
	now := q.now()
	var refusal error
	found := false
	out, err := q.st.TransitionMany(ctx, []string{id}, func(m *store.Message) *store.Change {
		found, refusal = true, nil
		switch {
		case m.State != store.Unknown && !(m.State == store.Failed && m.Dead):
			refusal = &store.StateError{ID: id, Have: m.State, Want: []store.State{store.Failed, store.Unknown}}
		case !now.Before(m.ExpiresAt):
			refusal = store.ErrExpired
		case m.Erased:
			refusal = store.ErrErased
		default:
			return &store.Change{
				From: []store.State{store.Failed, store.Unknown}, To: store.Queued, Reason: "requeued",
				Mutate: func(m *store.Message) { m.Attempts, m.Dead, m.DueAt, m.PinnedDriver = 0, false, now, "" },
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case refusal != nil:
		return nil, refusal
	case !found:
		_, err := q.st.Get(ctx, id)
		if err == nil {
			err = fmt.Errorf("message %s: %w", id, store.ErrNotFound)
		}
		return nil, err
	case len(out) == 0:
		return nil, &store.StateError{ID: id, Want: []store.State{store.Failed, store.Unknown}}
	}
	q.Wake()
	return out[0], nil
}

// Stats summarises the store.
func (q *Queue) Stats(ctx context.Context) (store.Stats, error) { return q.st.Stats(ctx) }

// DeviceStatus is one device's last known health.
type DeviceStatus struct {
	Name     string
	Type     string
	Health   drivers.Health
	InFlight int
}

// Devices reports the devices in configuration order.
func (q *Queue) Devices() []DeviceStatus {
	out := make([]DeviceStatus, 0, len(q.order))
	for _, d := range q.order {
		d.mu.Lock()
		out = append(out, DeviceStatus{Name: d.Name, Type: d.Type, Health: d.health, InFlight: d.inflight})
		d.mu.Unlock()
	}
	return out
}

// SetOptOut puts a number on the opt-out list or takes it off.
func (q *Queue) SetOptOut(ctx context.Context, e164 string, out bool, source, keyword string) (bool, error) {
	return q.st.SetOptOut(ctx, e164, out, source, keyword)
}

// OptOuts lists the opt-out list.
func (q *Queue) OptOuts(ctx context.Context) ([]store.OptOut, error) { return q.st.OptOuts(ctx) }

// SetConsent records or withdraws a consent.
func (q *Queue) SetConsent(ctx context.Context, e164, purpose string, give bool, source string) (bool, error) {
	return q.st.SetConsent(ctx, e164, purpose, give, source)
}

// Consents lists consents, of one number when e164 is not empty.
func (q *Queue) Consents(ctx context.Context, e164 string) ([]store.Consent, error) {
	return q.st.Consents(ctx, e164)
}

// Journal lists journal entries, newest first.
func (q *Queue) Journal(ctx context.Context, since time.Time, limit int) ([]store.JournalEntry, error) {
	return q.st.Journal(ctx, since, limit)
}
