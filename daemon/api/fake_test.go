package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"smsgw/daemon/client"
	"smsgw/daemon/store"
)

// fakeBackend behaves like the store for what the API can see: the first
// write of an idempotency key wins, later ones get *store.DuplicateKeyError.
type fakeBackend struct {
	mu       sync.Mutex
	messages map[string]*store.Message
	order    []string
	events   map[string][]store.Event
	idem     map[string]store.Idempotency
	submits  int
	filters  []store.Filter
	// admissions records the checks asked of each Submit; submitErr,
	// when set, is what Submit returns.
	admissions []store.Admission
	submitErr  error

	// entered and release, when set, make Submit signal its start and
	// wait before doing anything.
	entered chan struct{}
	release chan struct{}
	// err, when set, is returned by every method that can fail.
	err error
	// panicStats makes Stats panic.
	panicStats bool
	stats      store.Stats
	now        time.Time
}

func newFakeBackend(now time.Time) *fakeBackend {
	return &fakeBackend{
		messages: map[string]*store.Message{},
		events:   map[string][]store.Event{},
		idem:     map[string]store.Idempotency{},
		now:      now,
	}
}

func (f *fakeBackend) put(m *store.Message, events ...store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages[m.ID] = m
	f.order = append(f.order, m.ID)
	f.events[m.ID] = events
}

func (f *fakeBackend) get(id string) *store.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messages[id]
}

func (f *fakeBackend) submitCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.submits
}

func (f *fakeBackend) lastFilter() store.Filter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filters[len(f.filters)-1]
}

func (f *fakeBackend) Submit(ctx context.Context, m *store.Message, idem *store.Idempotency, adm store.Admission) error {
	if f.entered != nil {
		f.entered <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admissions = append(f.admissions, adm)
	if f.err != nil {
		return f.err
	}
	if f.submitErr != nil {
		return f.submitErr
	}
	if idem != nil {
		k := idem.Client + "\x00" + idem.Key
		if old, ok := f.idem[k]; ok {
			return &store.DuplicateKeyError{Existing: old, SamePayload: old.Fingerprint == idem.Fingerprint}
		}
		cp := *idem
		cp.Response = bytes.Clone(idem.Response)
		f.idem[k] = cp
	}
	cp := *m
	f.messages[m.ID] = &cp
	f.order = append(f.order, m.ID)
	f.events[m.ID] = []store.Event{{Seq: 1, At: m.CreatedAt, To: store.Queued, Reason: "submitted"}}
	f.submits++
	return nil
}

func (f *fakeBackend) Message(_ context.Context, id string) (*store.Message, []store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, nil, f.err
	}
	m, ok := f.messages[id]
	if !ok {
		return nil, nil, store.ErrNotFound
	}
	cp := *m
	return &cp, slices.Clone(f.events[id]), nil
}

func (f *fakeBackend) List(_ context.Context, flt store.Filter) ([]*store.Message, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	if f.err != nil {
		return nil, "", f.err
	}
	start := 0
	if flt.Cursor != "" {
		n, err := strconv.Atoi(flt.Cursor)
		if err != nil {
			return nil, "", errors.New("bad cursor")
		}
		start = n
	}
	var out []*store.Message
	for i := start; i < len(f.order); i++ {
		m := f.messages[f.order[i]]
		if flt.DeadOnly && !m.Dead {
			continue
		}
		if len(flt.States) > 0 && !slices.Contains(flt.States, m.State) {
			continue
		}
		if flt.Client != "" && m.Client != flt.Client {
			continue
		}
		if len(out) == flt.Limit {
			return out, strconv.Itoa(i), nil
		}
		cp := *m
		out = append(out, &cp)
	}
	return out, "", nil
}

func (f *fakeBackend) Cancel(_ context.Context, id string) (*store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	m, ok := f.messages[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	if m.State != store.Queued {
		return nil, &store.StateError{ID: id, Have: m.State, Want: []store.State{store.Queued}}
	}
	m.State = store.Cancelled
	cp := *m
	return &cp, nil
}

func (f *fakeBackend) Requeue(_ context.Context, id string) (*store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	m, ok := f.messages[id]
	switch {
	case !ok:
		return nil, store.ErrNotFound
	case m.State != store.Failed || !m.Dead:
		return nil, &store.StateError{ID: id, Have: m.State, Want: []store.State{store.Failed}}
	case m.Erased:
		return nil, store.ErrErased
	case !m.ExpiresAt.After(f.now):
		return nil, store.ErrExpired
	}
	m.State, m.Dead = store.Queued, false
	cp := *m
	return &cp, nil
}

func (f *fakeBackend) Stats(context.Context) (store.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicStats {
		panic("stats exploded")
	}
	if f.err != nil {
		return store.Stats{}, f.err
	}
	return f.stats, nil
}

func (f *fakeBackend) Health(context.Context) client.Health {
	return client.Health{Status: "ok", Version: "test", UptimeSeconds: 12}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func debugLogger(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
