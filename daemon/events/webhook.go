package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"smsgw/daemon/access"
	"smsgw/daemon/store"
)

// Store is what the webhook worker needs from the store.
type Store interface {
	Feed(ctx context.Context, after uint64, limit int) ([]store.FeedEntry, error)
	FeedChanged() <-chan struct{}
	FeedHead() uint64
	WebhookCursor(ctx context.Context, client string, start uint64) (uint64, error)
	SetWebhookCursor(ctx context.Context, client string, seq uint64) error
	Delivery(ctx context.Context, client string, seq uint64) (*store.Delivery, error)
	SaveDelivery(ctx context.Context, d store.Delivery) error
}

// Target is one client's webhook.
type Target struct {
	Client string
	// Admin clients receive every event, others their own and device events.
	Admin  bool
	URL    string
	Secret []byte
	// MaxAttempts per event; then the event is dead-lettered.
	MaxAttempts int
	// Initial and Max bound the exponential backoff between attempts.
	Initial, Max time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
}

// ErrNotPrivate refuses a webhook host that resolves to a public address.
var ErrNotPrivate = errors.New("webhook address is not private")

// errRedirect refuses redirects: a receiver could point smsgw elsewhere.
var errRedirect = errors.New("webhook answered with a redirect, which smsgw does not follow")

// PrivateHTTPClient returns an HTTP client that connects only to private
// addresses: the check runs on the address actually dialled, after name
// resolution, so a name that resolves (or rebinds) to a public address is
// refused. It uses no proxy and follows no redirect.
func PrivateHTTPClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{
		Timeout: timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook address %q: %w", address, err)
			}
			if !access.IsPrivate(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrNotPrivate, ap.Addr())
			}
			return nil
		},
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			TLSHandshakeTimeout: timeout,
			MaxIdleConns:        2,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

// Worker delivers one client's events to its webhook, in feed order, one
// at a time. Each attempt is recorded in the store before the next, so a
// restart resumes with the same attempt count and backoff; after
// MaxAttempts the event is dead-lettered and the worker moves on.
type Worker struct {
	store Store
	t     Target
	http  *http.Client
	log   *slog.Logger
	now   func() time.Time
}

// NewWorker returns a worker for t. log must not be nil.
func NewWorker(st Store, t Target, log *slog.Logger) *Worker {
	return &Worker{store: st, t: t, http: PrivateHTTPClient(t.Timeout), log: log, now: time.Now}
}

// Run delivers events until ctx ends; it returns nil then.
func (w *Worker) Run(ctx context.Context) error {
	cur, err := w.store.WebhookCursor(ctx, w.t.Client, w.store.FeedHead())
	if err != nil {
		return err
	}
	for {
		changed := w.store.FeedChanged()
		entries, err := w.store.Feed(ctx, cur, 100)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.log.Error("reading the event feed", slog.Any("err", err))
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		skipped := uint64(0)
		for _, e := range entries {
			if !Visible(e, w.t.Client, w.t.Admin) {
				cur, skipped = e.Seq, e.Seq
				continue
			}
			if !w.deliver(ctx, e) {
				return nil
			}
			cur, skipped = e.Seq, 0
		}
		if skipped != 0 {
			if err := w.store.SetWebhookCursor(ctx, w.t.Client, skipped); err != nil && ctx.Err() == nil {
				w.log.Warn("saving the webhook cursor", slog.Any("err", err))
			}
		}
		if len(entries) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// deliver tries e until it is delivered or dead; false if ctx ended first.
func (w *Worker) deliver(ctx context.Context, e store.FeedEntry) bool {
	d, err := w.store.Delivery(ctx, w.t.Client, e.Seq)
	if err != nil {
		return false
	}
	if d == nil {
		d = &store.Delivery{Client: w.t.Client, Seq: e.Seq, Kind: e.Kind, MessageID: e.MessageID, State: store.DeliveryPending}
	}
	if d.State != store.DeliveryPending {
		return true
	}
	body, err := json.Marshal(Wire(e))
	if err != nil {
		w.log.Error("encoding an event", slog.Uint64("event", e.Seq), slog.Any("err", err))
		return true
	}
	for {
		if wait := d.NextAt.Sub(w.now()); wait > 0 && !sleep(ctx, wait) {
			return false
		}
		status, err := w.post(ctx, e.Seq, body)
		if ctx.Err() != nil {
			return false
		}
		d.Attempts++
		d.LastStatus = status
		d.UpdatedAt = w.now()
		d.NextAt = time.Time{}
		switch {
		case err == nil:
			d.State, d.LastError = store.DeliveryDelivered, ""
		case d.Attempts >= w.t.MaxAttempts:
			d.State, d.LastError = store.DeliveryDead, err.Error()
			w.log.Warn("webhook event dead-lettered", slog.String("client", w.t.Client),
				slog.Uint64("event", e.Seq), slog.Int("attempts", d.Attempts), slog.Any("err", err))
		default:
			d.LastError = err.Error()
			d.NextAt = d.UpdatedAt.Add(w.backoff(d.Attempts))
			w.log.Debug("webhook attempt failed", slog.String("client", w.t.Client),
				slog.Uint64("event", e.Seq), slog.Int("attempt", d.Attempts), slog.Any("err", err))
		}
		for {
			if err := w.store.SaveDelivery(ctx, *d); err == nil {
				break
			} else if ctx.Err() != nil {
				return false
			} else {
				w.log.Error("saving a webhook delivery", slog.Any("err", err))
				if !sleep(ctx, time.Second) {
					return false
				}
			}
		}
		if d.State != store.DeliveryPending {
			return true
		}
	}
}

// post sends one signed attempt. Any 2xx is success.
func (w *Worker) post(ctx context.Context, seq uint64, body []byte) (int, error) {
	ts := w.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smsgw-webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.t.Secret, ts, body))
	req.Header.Set(HeaderEventID, strconv.FormatUint(seq, 10))
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// backoff is exponential from Initial to Max, jittered to between half and
// all of it.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.t.Initial
	for i := 1; i < attempt && d < w.t.Max; i++ {
		d *= 2
	}
	d = min(d, w.t.Max)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
