// Package queue runs the message state machine: it leases due messages to
// devices, paces each device, classifies every outcome into retry, failure,
// dead letter or hold, expires stale messages before they are sent late,
// applies delivery reports, and resolves what a crash left in flight.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"smsgw/daemon/logging"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
	"smsgw/drivers"
)

// RenderFunc turns a stored message into the text and segment plan to send.
type RenderFunc func(m *store.Message) (text string, plan drivers.SegmentPlan, err error)

// Options configures a Queue.
type Options struct {
	Store   *store.Store
	Devices []Device
	// Routes maps a purpose to device names in failover order. A purpose
	// without a route may use every device.
	Routes map[string][]string
	Render RenderFunc

	// MaxAttempts caps the sends of one message, first attempt included.
	MaxAttempts int
	// BackoffInitial and BackoffMax bound the exponential retry delay; each
	// delay is drawn uniformly from [0, min(max, initial·2^(n-1))] (full jitter).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// RetryUncertain resends after an uncertain outcome instead of holding
	// the message in "unknown" for review.
	RetryUncertain bool
	// SendTimeout bounds one driver Send.
	SendTimeout time.Duration
	// HealthInterval is how often devices are probed.
	HealthInterval time.Duration

	// Numbers reads the sender of an inbound message.
	Numbers policy.NumberRules
	// Reply, when set, returns the confirmation to queue after a number
	// texted a keyword, or nil for none.
	Reply func(to string, kw policy.Keyword, now time.Time) *store.Message

	Log *slog.Logger
	Now func() time.Time
	// Jitter returns a float in [0,1); nil means math/rand.
	Jitter func() float64
}

// Queue is the dispatcher and the message operations built on it.
type Queue struct {
	opt     Options
	st      *store.Store
	log     *slog.Logger
	now     func() time.Time
	devices map[string]*device
	order   []*device
	wake    chan struct{}
	sends   sync.WaitGroup
	// sending holds the ids whose send runs in this process.
	sending sync.Map
}

// leaseBatch is how many due messages one lease transaction takes, and
// maxDuePages how many batches one pass reads looking for a message some
// free device can take.
const (
	leaseBatch  = 128
	maxDuePages = 8
)

// New returns a Queue; Run starts it.
func New(o Options) (*Queue, error) {
	if o.Store == nil || o.Render == nil {
		return nil, errors.New("queue: store and render are required")
	}
	if len(o.Devices) == 0 {
		return nil, errors.New("queue: no devices")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = 10 * time.Second
	}
	if o.BackoffMax < o.BackoffInitial {
		o.BackoffMax = max(o.BackoffInitial, 10*time.Minute)
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = time.Minute
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 30 * time.Second
	}
	q := &Queue{
		opt: o, st: o.Store, log: o.Log, now: o.Now,
		devices: make(map[string]*device, len(o.Devices)),
		wake:    make(chan struct{}, 1),
	}
	for _, d := range o.Devices {
		if _, dup := q.devices[d.Name]; dup {
			return nil, fmt.Errorf("queue: device %q configured twice", d.Name)
		}
		dev := &device{Device: d, health: drivers.Health{State: drivers.StateReady}}
		q.devices[d.Name] = dev
		q.order = append(q.order, dev)
	}
	for purpose, names := range o.Routes {
		for _, n := range names {
			if _, ok := q.devices[n]; !ok {
				return nil, fmt.Errorf("queue: route for %q names unknown device %q", purpose, n)
			}
		}
	}
	return q, nil
}

// Wake tells the dispatcher that new work may be due.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done, then waits for sends in flight. Call
// Recover first.
func (q *Queue) Run(ctx context.Context) error {
	// Device events are read until the sends in flight have finished, so
	// that a report arriving during shutdown is still recorded.
	eventsCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEvents()
	var bg sync.WaitGroup
	for _, d := range q.order {
		if es, ok := d.Driver.(drivers.EventSource); ok {
			bg.Add(1)
			go func() {
				defer bg.Done()
				q.consumeEvents(eventsCtx, d, es.Events())
			}()
		}
		if hc, ok := d.Driver.(drivers.HealthChecker); ok {
			bg.Add(1)
			go func() {
				defer bg.Done()
				q.watchHealth(ctx, d, hc)
			}()
		}
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		q.reapLeases(ctx)
	}()
	q.dispatchLoop(ctx)
	q.sends.Wait()
	stopEvents()
	bg.Wait()
	return nil
}

func (q *Queue) dispatchLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
		wait := q.dispatchOnce(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// dispatchOnce leases what it can and returns how long to sleep before
// looking again (a wake-up may come sooner).
func (q *Queue) dispatchOnce(ctx context.Context) time.Duration {
	const idle = 5 * time.Second
	wait := func(at, now time.Time) time.Duration {
		if at.IsZero() {
			return idle
		}
		return min(max(at.Sub(now), time.Millisecond), idle)
	}
	for ctx.Err() == nil {
		now := q.now()
		// When no device could take anything now, reading due messages
		// would be wasted work, repeated at every submission; when few
		// slots are free, read only a few more messages than that (some may
		// be routed to busy devices).
		slots, at := q.freeSlots(now)
		if slots == 0 {
			return wait(at, now)
		}
		batch := min(leaseBatch, 4*slots+4)
		var (
			cursor  []byte
			retryAt time.Time
			next    time.Time
			leased  int
			full    bool
			seen    int
		)
		// Look past messages whose devices are busy, paced or down, so
		// that they cannot hold back messages routed to an idle device.
		for page := 0; page < maxDuePages; page++ {
			ids, nxt, last, err := q.st.DuePage(ctx, now, batch, cursor)
			if err != nil {
				q.log.Error("reading due messages", slog.Any("err", err))
				return time.Second
			}
			next, seen = nxt, seen+len(ids)
			if len(ids) == 0 {
				break
			}
			n, r := q.leaseBatch(ctx, ids, now)
			if !r.IsZero() && (retryAt.IsZero() || r.Before(retryAt)) {
				retryAt = r
			}
			leased += n
			full = len(ids) == batch
			if n > 0 || !full {
				break
			}
			cursor = last
		}
		switch {
		case seen == 0:
			return wait(next, now)
		case leased == 0:
			// Every due message waits for a device: sleep until pacing
			// frees one, or until a send finishes and wakes us.
			return wait(retryAt, now)
		case !full:
			return wait(next, q.now())
		}
	}
	return idle
}

type plannedLease struct {
	dev   *device
	at    time.Time
	parts int
}

// leaseBatch moves due messages to sending (or expired) in one transaction
// and starts their sends. It returns how many were leased and, when some
// could not be, the earliest time a device may take them.
func (q *Queue) leaseBatch(ctx context.Context, ids []string, now time.Time) (int, time.Time) {
	plan := make(map[string]plannedLease, len(ids))
	var retryAt time.Time
	decide := func(m *store.Message) *store.Change {
		if m.State != store.Queued {
			return nil
		}
		if !now.Before(m.ExpiresAt) {
			return &store.Change{From: []store.State{store.Queued}, To: store.Expired, Reason: "expired_in_queue",
				Detail: "validity passed before a device could take it"}
		}
		if m.PinnedDriver != "" && q.devices[m.PinnedDriver] == nil {
			// Part of it left through a device that is no longer
			// configured; another device would repeat those parts.
			return &store.Change{From: []store.State{store.Queued}, To: store.Unknown, Reason: "pinned_device_gone",
				Detail: "part of the message left through " + m.PinnedDriver + ", which is no longer configured; held for review"}
		}
		p, seen := plan[m.ID]
		if !seen {
			dev, at := q.pick(m, now)
			if dev == nil {
				if !at.IsZero() && (retryAt.IsZero() || at.Before(retryAt)) {
					retryAt = at
				}
				return nil
			}
			p = plannedLease{dev: dev, at: now, parts: max(m.Parts, 1)}
			plan[m.ID] = p
		}
		leaseUntil := now.Add(q.opt.SendTimeout + 30*time.Second)
		return &store.Change{From: []store.State{store.Queued}, To: store.Sending, Reason: "leased", Driver: p.dev.Name,
			Mutate: func(m *store.Message) { m.Attempts++; m.LeaseUntil = leaseUntil }}
	}
	changed, err := q.st.TransitionMany(ctx, ids, decide)
	leased := make(map[string]bool, len(changed))
	if err != nil {
		q.log.Error("leasing messages", slog.Any("err", err))
		changed = nil
	}
	for _, m := range changed {
		switch m.State {
		case store.Expired:
			q.log.Info("message expired in queue", slog.String("id", m.ID), slog.String("purpose", m.Purpose))
		case store.Sending:
			leased[m.ID] = true
			p := plan[m.ID]
			q.sends.Add(1)
			q.sending.Store(m.ID, struct{}{})
			go func() {
				defer q.sends.Done()
				defer q.sending.Delete(m.ID)
				q.send(ctx, p.dev, m)
			}()
		}
	}
	record := map[*device][]store.SentParts{}
	for id, p := range plan {
		if !leased[id] {
			p.dev.unreserve(p.at, p.parts)
			continue
		}
		if p.dev.pacingTTL() > 0 {
			record[p.dev] = append(record[p.dev], store.SentParts{At: p.at, Parts: p.parts})
		}
	}
	for dev, sends := range record {
		if err := q.st.RecordSends(ctx, dev.Name, sends, dev.pacingTTL()); err != nil {
			q.log.Warn("recording pacing history", slog.String("driver", dev.Name), slog.Any("err", err))
		}
	}
	return len(leased), retryAt
}

// freeSlots counts the sends devices could start now, for one-part
// messages. When none can, it returns the earliest time one may (zero when
// only a finishing send can free a slot).
func (q *Queue) freeSlots(now time.Time) (int, time.Time) {
	var earliest time.Time
	slots := 0
	for _, d := range q.order {
		n, at := d.free(now)
		slots += n
		if n == 0 && !at.IsZero() && (earliest.IsZero() || at.Before(earliest)) {
			earliest = at
		}
	}
	if slots > 0 {
		return slots, time.Time{}
	}
	return 0, earliest
}

// pick chooses the first device on the message's route that can take it now.
func (q *Queue) pick(m *store.Message, now time.Time) (*device, time.Time) {
	var earliest time.Time
	candidates := q.route(m.Purpose)
	if m.PinnedDriver != "" {
		candidates = []*device{q.devices[m.PinnedDriver]}
	}
	for _, d := range candidates {
		ok, at := d.reserve(now, max(m.Parts, 1))
		if ok {
			return d, time.Time{}
		}
		if !at.IsZero() && (earliest.IsZero() || at.Before(earliest)) {
			earliest = at
		}
	}
	return nil, earliest
}

func (q *Queue) route(purpose string) []*device {
	names, ok := q.opt.Routes[purpose]
	if !ok {
		return q.order
	}
	out := make([]*device, 0, len(names))
	for _, n := range names {
		out = append(out, q.devices[n])
	}
	return out
}

// backoff is the delay before retry number attempt (1-based), with full jitter.
func (q *Queue) backoff(attempt int) time.Duration {
	ceiling := q.opt.BackoffInitial
	for i := 1; i < attempt && ceiling < q.opt.BackoffMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, q.opt.BackoffMax)
	return time.Duration(q.opt.Jitter() * float64(ceiling))
}

func phone(s string) slog.Attr { return slog.Any("to", logging.Phone(s)) }
