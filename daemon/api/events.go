package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"smsgw/daemon/client"
	"smsgw/daemon/events"
	"smsgw/daemon/store"
)

// Problem codes of the event endpoints.
const (
	codeEventsUnavailable  = "events_unavailable"
	codeLastEventIDInvalid = "last_event_id_invalid"
)

// Event stream tuning.
const (
	sseBatch     = 256
	sseKeepalive = 15 * time.Second
	sseRetryMS   = 2000
)

func (s *Server) eventsOr404(w http.ResponseWriter) bool {
	if s.events == nil {
		writeProblem(w, problemf(http.StatusNotFound, codeEventsUnavailable, "This daemon keeps no event feed."))
		return false
	}
	return true
}

// streamEvents answers GET /v1/events with server-sent events: one event
// per feed entry the caller may see, with the entry's number as id, its
// kind as event name and its wire form as data. It resumes after the
// Last-Event-ID header, or the after query parameter (after=0 replays
// the whole retained feed); with neither it starts with what happens next.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	if !s.eventsOr404(w) {
		return
	}
	for name := range r.URL.Query() {
		if name != "after" {
			writeProblem(w, problemf(http.StatusBadRequest, codeQueryInvalid, "Remove the query parameter %q; use after.", name))
			return
		}
	}
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		raw = r.URL.Query().Get("after")
	}
	after, ok, err := events.ParseLastEventID(raw)
	if err != nil {
		writeProblem(w, problemf(http.StatusBadRequest, codeLastEventIDInvalid,
			"Give Last-Event-ID (or after) as the decimal id of the last event received."))
		return
	}
	if !ok {
		after = s.events.FeedHead()
	}
	id := who(r)
	ctx := r.Context()
	serveDone, _ := ctx.Value(serveDoneKey{}).(<-chan struct{})

	// The stream outlives the server's write timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", sseRetryMS); err != nil {
		return
	}
	_ = rc.Flush()
	if r.Method == http.MethodHead {
		return
	}

	keepalive := time.NewTicker(sseKeepalive)
	defer keepalive.Stop()
	for {
		changed := s.events.FeedChanged()
		entries, err := s.events.Feed(ctx, after, sseBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "reading the event feed", "err", err)
			}
			return
		}
		for _, e := range entries {
			after = e.Seq
			if !events.Visible(e, id.client, id.admin) {
				continue
			}
			data, err := json.Marshal(events.Wire(e))
			if err != nil {
				s.log.ErrorContext(ctx, "encoding an event", "err", err)
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if len(entries) == sseBatch {
			continue
		}
		select {
		case <-changed:
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-serveDone:
			return
		}
	}
}

// listDeliveries answers GET /v1/webhooks/deliveries: the caller's webhook
// deliveries, newest first; an admin sees every client's, or one client's
// with client=NAME. state keeps pending, delivered or dead.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	if !s.eventsOr404(w) {
		return
	}
	q := r.URL.Query()
	bad := func(format string, args ...any) {
		writeProblem(w, problemf(http.StatusBadRequest, codeQueryInvalid, format, args...))
	}
	for name, vals := range q {
		switch name {
		case "state", "client", "limit":
			if len(vals) > 1 {
				bad("Give the query parameter %s once.", name)
				return
			}
		default:
			bad("Remove the query parameter %q; use state, client or limit.", name)
			return
		}
	}
	state := q.Get("state")
	switch state {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead:
	default:
		bad("Use state pending, delivered or dead, not %q.", state)
		return
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			bad("Give limit as a whole number from 1 to %d.", maxLimit)
			return
		}
		limit = n
	}
	id := who(r)
	clientName := q.Get("client")
	if !id.admin {
		if clientName != "" && clientName != id.client {
			writeProblem(w, problemf(http.StatusForbidden, codeAdminOnly, "Only an admin client may see another client's deliveries; leave out client."))
			return
		}
		clientName = id.client
	}
	list, err := s.events.Deliveries(r.Context(), clientName, state, limit)
	if err != nil {
		s.internal(w, r, fmt.Errorf("list webhook deliveries: %w", err))
		return
	}
	out := client.WebhookDeliveryList{Deliveries: make([]client.WebhookDelivery, 0, len(list))}
	for _, d := range list {
		v := client.WebhookDelivery{
			Client: d.Client, EventID: d.Seq, Kind: d.Kind, MessageID: d.MessageID, State: d.State,
			Attempts: d.Attempts, LastError: d.LastError, LastStatus: d.LastStatus, UpdatedAt: d.UpdatedAt,
		}
		if !d.NextAt.IsZero() {
			next := d.NextAt
			v.NextAt = &next
		}
		out.Deliveries = append(out.Deliveries, v)
	}
	s.writeJSON(w, r, http.StatusOK, out)
}
