package queue

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"smsgw/daemon/logging"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
	"smsgw/drivers"
)

// send hands one leased message to its device and records the outcome.
// The send itself is not cancelled by shutdown: a Send cut short could
// leave an SMS half handed over, so it runs to completion or SendTimeout.
func (q *Queue) send(ctx context.Context, dev *device, m *store.Message) {
	defer q.Wake()
	defer dev.release()
	// Transitions must land even while the daemon shuts down.
	wctx := context.WithoutCancel(ctx)

	text, plan, err := q.opt.Render(m)
	if err != nil {
		q.finish(wctx, m, dev, store.Failed, "render_failed", err.Error(), func(m *store.Message) {
			m.LastError = &store.Failure{Class: string(drivers.ClassPermanent), Code: "render_failed", Detail: err.Error()}
		})
		return
	}
	// The last look at validity before the message leaves: a stale code
	// must never be sent late.
	if !q.now().Before(m.ExpiresAt) {
		q.finish(wctx, m, dev, store.Expired, "expired_before_send", "validity passed while waiting for the device", nil)
		return
	}
	// The opt-out list is checked again at the last moment: a STOP may
	// have arrived while the message waited in the queue.
	if !m.OptOutExempt {
		out, err := q.st.IsOptedOut(wctx, m.To)
		if err != nil {
			q.finish(wctx, m, dev, store.Queued, "opt_out_check_failed", "could not read the opt-out list; retrying", func(m *store.Message) {
				m.DueAt = q.now().Add(q.backoff(m.Attempts))
			})
			return
		}
		if out {
			q.finish(wctx, m, dev, store.Failed, CodeRecipientOptedOut, "the recipient opted out while the message was queued", func(m *store.Message) {
				m.LastError = &store.Failure{Class: string(drivers.ClassPermanent), Code: CodeRecipientOptedOut, Detail: "the recipient opted out"}
			})
			return
		}
	}
	out := &drivers.Outbound{ID: m.ID, To: m.To, Text: text, Segments: plan, ExpiresAt: m.ExpiresAt, Attempt: m.Attempts}
	sctx, cancel := context.WithTimeout(wctx, q.opt.SendTimeout)
	receipt, err := dev.Driver.Send(sctx, out)
	cancel()

	if err == nil {
		detail := ""
		if !receipt.DeliveryReports {
			detail = "device gives no delivery reports"
		}
		q.finish(wctx, m, dev, store.Sent, "accepted_by_device", detail, func(m *store.Message) {
			m.DriverRef = receipt.Ref
			if receipt.Parts > 0 {
				m.Parts = receipt.Parts
			}
			m.LastError = nil
		})
		return
	}
	de := drivers.Classify(err)
	failure := &store.Failure{Class: string(de.Class), Code: de.Code, Detail: de.Detail}
	setErr := func(m *store.Message) { m.LastError = failure }
	q.log.Warn("send failed", slog.String("id", m.ID), slog.String("driver", dev.Name),
		slog.String("class", string(de.Class)), slog.String("code", de.Code), slog.Int("attempt", m.Attempts))

	switch {
	case de.Class == drivers.ClassPermanent:
		q.finish(wctx, m, dev, store.Failed, de.Code, de.Detail, setErr)
	case de.Class == drivers.ClassUncertain && !q.opt.RetryUncertain:
		q.finish(wctx, m, dev, store.Unknown, de.Code, "outcome unknown; held for review (on_uncertain: hold)", setErr)
	case m.Attempts >= q.opt.MaxAttempts:
		q.finish(wctx, m, dev, store.Failed, "retries_exhausted", de.Code+": "+de.Detail, func(m *store.Message) {
			m.LastError = failure
			m.Dead = true
		})
	default:
		delay := max(q.backoff(m.Attempts), de.RetryAfter)
		due := q.now().Add(delay)
		if !due.Before(m.ExpiresAt) {
			q.finish(wctx, m, dev, store.Expired, "expired_before_retry", de.Code+": the next retry would come after the validity", setErr)
			return
		}
		detail := de.Code + ": retry in " + delay.Round(time.Millisecond).String()
		if de.SameDevice {
			detail += " on " + dev.Name + " only (part of the message left through it)"
		}
		q.finish(wctx, m, dev, store.Queued, "retry_scheduled", detail, func(m *store.Message) {
			m.LastError = failure
			m.DueAt = due
			if de.SameDevice {
				m.PinnedDriver = dev.Name
			}
		})
	}
}

// finish records the outcome of a send.
func (q *Queue) finish(ctx context.Context, m *store.Message, dev *device, to store.State, reason, detail string, mutate func(*store.Message)) {
	_, err := q.st.Transition(ctx, m.ID, store.Change{
		From: []store.State{store.Sending}, To: to, Reason: reason, Detail: detail, Driver: dev.Name, Mutate: mutate,
	})
	var se *store.StateError
	switch {
	case errors.As(err, &se):
		// A delivery report overtook the send's own result.
		q.log.Debug("outcome arrived after a later state", slog.String("id", m.ID), slog.String("state", string(se.Have)))
	case err != nil:
		q.log.Error("recording send outcome", slog.String("id", m.ID), slog.String("to_state", string(to)), slog.Any("err", err))
	default:
		q.log.Info("message "+string(to), slog.String("id", m.ID), slog.String("driver", dev.Name), slog.String("reason", reason), phone(m.To))
	}
}

// consumeEvents applies what a device reports on its own.
func (q *Queue) consumeEvents(ctx context.Context, dev *device, events <-chan drivers.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.Kind {
			case drivers.EventDelivery:
				q.applyDelivery(context.WithoutCancel(ctx), dev, ev)
			case drivers.EventInbound:
				q.applyInbound(context.WithoutCancel(ctx), dev, ev)
			case drivers.EventHeartbeat:
				q.log.Debug("heartbeat", slog.String("driver", dev.Name))
			}
		}
	}
}

func (q *Queue) applyDelivery(ctx context.Context, dev *device, ev drivers.Event) {
	if ev.ID == "" {
		q.log.Warn("delivery report without message id", slog.String("driver", dev.Name), slog.String("ref", ev.Ref))
		return
	}
	to, reason := store.Delivered, "delivery_report"
	if !ev.Delivered {
		to = store.Failed
	}
	// A report may overtake the send's own result, or resolve a held one.
	_, err := q.st.Transition(ctx, ev.ID, store.Change{
		From: []store.State{store.Sending, store.Sent, store.Unknown}, To: to, Reason: reason, Detail: ev.Reason, Driver: dev.Name,
		Mutate: func(m *store.Message) {
			if m.DriverRef == "" {
				m.DriverRef = ev.Ref
			}
			if !ev.Delivered {
				m.LastError = &store.Failure{Class: string(drivers.ClassPermanent), Code: "delivery_report", Detail: ev.Reason}
			}
		},
	})
	var se *store.StateError
	switch {
	case errors.As(err, &se):
		q.log.Debug("late or duplicate delivery report ignored", slog.String("id", ev.ID), slog.String("state", string(se.Have)))
	case errors.Is(err, store.ErrNotFound):
		q.log.Warn("delivery report for an unknown message", slog.String("id", ev.ID), slog.String("driver", dev.Name))
	case err != nil:
		q.log.Error("recording delivery report", slog.String("id", ev.ID), slog.Any("err", err))
	default:
		q.log.Info("message "+string(to), slog.String("id", ev.ID), slog.String("driver", dev.Name), slog.String("reason", reason))
	}
}

// watchHealth probes a device so that routing skips it while it is down.
func (q *Queue) watchHealth(ctx context.Context, dev *device, hc drivers.HealthChecker) {
	probe := func() {
		pctx, cancel := context.WithTimeout(ctx, min(q.opt.HealthInterval, 10*time.Second))
		defer cancel()
		h, err := hc.Health(pctx)
		if err != nil {
			h = drivers.Health{State: drivers.StateDown, Detail: "health check failed", LastError: err.Error(), CheckedAt: q.now()}
		}
		prev := dev.currentHealth()
		dev.setHealth(h)
		if prev.State != h.State {
			q.log.Info("device state changed", slog.String("driver", dev.Name), slog.String("from", string(prev.State)),
				slog.String("to", string(h.State)), slog.String("detail", h.Detail))
			q.Wake()
		}
	}
	probe()
	t := time.NewTicker(q.opt.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			probe()
		}
	}
}

// CodeRecipientOptedOut is the reason of a message not sent because its
// recipient opted out after it was accepted.
const CodeRecipientOptedOut = "recipient_opted_out"

// applyInbound reads an inbound message as an opt-out or opt-in keyword.
// Only the keyword is kept, in the journal; the text is not logged.
func (q *Queue) applyInbound(ctx context.Context, dev *device, ev drivers.Event) {
	kw := policy.MatchKeyword(ev.Text)
	if kw == policy.NoKeyword {
		q.log.Info("inbound message without keyword", slog.String("driver", dev.Name), slog.Any("from", logging.Phone(ev.From)))
		return
	}
	rules := q.opt.Numbers
	rules.AllowedCountries, rules.RefuseFixedLine = nil, false
	num, err := rules.Normalize(ev.From)
	if err != nil {
		q.log.Warn("inbound keyword from an unreadable number", slog.String("driver", dev.Name), slog.String("keyword", kw.String()))
		return
	}
	changed, err := q.st.SetOptOut(ctx, num.E164, kw == policy.KeywordStop, "inbound:"+dev.Name, kw.String())
	if err != nil {
		q.log.Error("recording an inbound keyword", slog.String("driver", dev.Name), slog.Any("err", err))
		return
	}
	q.log.Info("inbound keyword", slog.String("driver", dev.Name), slog.String("keyword", kw.String()),
		slog.Bool("changed", changed), phone(num.E164))
	if !changed || q.opt.Reply == nil {
		return
	}
	m := q.opt.Reply(num.E164, kw, q.now())
	if m == nil {
		return
	}
	if err := q.st.Create(ctx, m, nil); err != nil {
		q.log.Error("queueing a keyword confirmation", slog.Any("err", err))
		return
	}
	q.Wake()
}
