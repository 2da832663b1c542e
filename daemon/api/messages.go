package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/daemon/client"
	"smsgw/daemon/logging"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
)

// secretValue stands for a secret param in every view.
const secretValue = "[secret]"

// List paging bounds.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// view converts a stored message for the wire. Secret params read
// secretValue, or are absent once erased; masked hides the recipient.
func (s *Server) view(m *store.Message, events []store.Event, masked bool) client.Message {
	v := client.Message{
		ID:          m.ID,
		Client:      m.Client,
		To:          m.To,
		Purpose:     m.Purpose,
		Template:    m.Template,
		State:       string(m.State),
		Attempts:    m.Attempts,
		MaxAttempts: m.MaxAttempts,
		Parts:       m.Parts,
		Encoding:    m.Encoding,
		Driver:      m.Driver,
		DriverRef:   m.DriverRef,
		CreatedAt:   m.CreatedAt,
		UpdatedAt:   m.UpdatedAt,
		ExpiresAt:   m.ExpiresAt,
	}
	switch {
	case m.To == "":
		// Erased with the message's key once it finished.
		v.To = m.ToMasked
	case masked:
		v.To = logging.MaskPhone(m.To)
	}
	if len(m.Params) > 0 {
		v.Params = make(map[string]string, len(m.Params))
		for k, val := range m.Params {
			switch {
			case !slices.Contains(m.SecretParams, k):
				v.Params[k] = val
			case !m.Erased:
				v.Params[k] = secretValue
			}
		}
	}
	if m.LastError != nil {
		v.LastError = &client.ErrorInfo{Class: m.LastError.Class, Code: m.LastError.Code, Detail: m.LastError.Detail}
	}
	if m.State == store.Queued && !m.DueAt.IsZero() {
		due := m.DueAt
		v.NextAttemptAt = &due
	}
	for _, e := range events {
		v.Events = append(v.Events, client.Event{
			Seq: e.Seq, At: e.At, From: string(e.From), To: string(e.To),
			Driver: e.Driver, Reason: e.Reason, Detail: e.Detail,
		})
	}
	return v
}

// messageID reads the {id} path value. Anything but a ULID cannot name a
// message, so it is answered 404 without asking the backend.
func messageID(r *http.Request) (string, *problem) {
	id := r.PathValue("id")
	if _, err := ulid.ParseStrict(id); err != nil {
		return "", notFound(id)
	}
	return id, nil
}

func notFound(id string) *problem {
	return problemf(http.StatusNotFound, codeMessageNotFound,
		"No message has the id %q; check the id returned when it was submitted.", id)
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id, p := messageID(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	m, events, err := s.backend.Message(r.Context(), id)
	if err != nil {
		s.backendError(w, r, id, err)
		return
	}
	if !owns(r, m) {
		writeProblem(w, notFound(id))
		return
	}
	s.writeJSON(w, r, http.StatusOK, s.view(m, events, false))
}

// owns reports whether the caller may see and act on m: its own client, or
// an admin. Other clients' messages answer 404, as if they did not exist.
func owns(r *http.Request, m *store.Message) bool {
	id := who(r)
	return id.admin || m.Client == id.client
}

// checkOwner answers 404 and returns false unless the caller owns message
// id.
func (s *Server) checkOwner(w http.ResponseWriter, r *http.Request, id string) bool {
	if who(r).admin {
		return true
	}
	m, _, err := s.backend.Message(r.Context(), id)
	if err != nil {
		s.backendError(w, r, id, err)
		return false
	}
	if !owns(r, m) {
		writeProblem(w, notFound(id))
		return false
	}
	return true
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	s.act(w, r, "message cancelled", s.backend.Cancel)
}

func (s *Server) requeue(w http.ResponseWriter, r *http.Request) {
	s.act(w, r, "message requeued", s.backend.Requeue)
}

// act runs one action on a message the caller owns and answers with the
// message as it is afterwards.
func (s *Server) act(w http.ResponseWriter, r *http.Request, done string, action func(context.Context, string) (*store.Message, error)) {
	id, p := messageID(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !s.checkOwner(w, r, id) {
		return
	}
	m, err := action(r.Context(), id)
	if err != nil {
		s.backendError(w, r, id, err)
		return
	}
	s.log.InfoContext(r.Context(), done, "id", id)
	s.writeJSON(w, r, http.StatusOK, s.view(m, nil, false))
}

// backendError answers a classified backend error, or 500.
func (s *Server) backendError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var stateErr *store.StateError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, notFound(id))
	case errors.Is(err, store.ErrExpired):
		writeProblem(w, problemf(http.StatusConflict, codeMessageExpired,
			"Message %s can no longer be sent: its validity has passed; submit a new message instead.", id))
	case errors.Is(err, store.ErrErased):
		writeProblem(w, problemf(http.StatusConflict, codeContentErased,
			"Message %s can no longer be sent: its secret params were erased; submit a new message instead.", id))
	case errors.As(err, &stateErr):
		writeProblem(w, problemf(http.StatusConflict, codeInvalidState,
			"Message %s is %s; this operation needs it to be %s.", id, stateErr.Have, joinStates(stateErr.Want, " or ")))
	default:
		s.internal(w, r, fmt.Errorf("message %s: %w", id, err))
	}
}

func joinStates(states []store.State, sep string) string {
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	return strings.Join(names, sep)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) { s.list(w, r, false) }

func (s *Server) listDead(w http.ResponseWriter, r *http.Request) { s.list(w, r, true) }

func (s *Server) list(w http.ResponseWriter, r *http.Request, dead bool) {
	f, p := parseFilter(r.URL.Query())
	if p != nil {
		writeProblem(w, p)
		return
	}
	f.DeadOnly = dead
	if id := who(r); !id.admin {
		f.Client = id.client
	}
	msgs, next, err := s.backend.List(r.Context(), f)
	if err != nil {
		s.internal(w, r, fmt.Errorf("list messages: %w", err))
		return
	}
	out := client.MessageList{Messages: make([]client.Message, 0, len(msgs)), NextCursor: next}
	for _, m := range msgs {
		out.Messages = append(out.Messages, s.view(m, nil, true))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// parseFilter reads the list query: status (repeatable or comma-separated),
// purpose, to, since, until, cursor, limit. Unknown parameters are refused so
// that a typo does not silently list everything.
func parseFilter(q url.Values) (store.Filter, *problem) {
	f := store.Filter{Limit: defaultLimit}
	bad := func(format string, args ...any) (store.Filter, *problem) {
		return store.Filter{}, problemf(http.StatusBadRequest, codeQueryInvalid, format, args...)
	}
	for name, vals := range q {
		switch name {
		case "status":
			continue
		case "purpose", "to", "since", "until", "cursor", "limit":
			if len(vals) > 1 {
				return bad("Give the query parameter %s once.", name)
			}
		default:
			return bad("Remove the query parameter %q; use status, purpose, to, since, until, cursor or limit.", name)
		}
	}
	for _, v := range q["status"] {
		for st := range strings.SplitSeq(v, ",") {
			st = strings.TrimSpace(st)
			if !store.State(st).Valid() {
				return bad("Use status values among %s, not %q.", joinStates(store.States, ", "), st)
			}
			if !slices.Contains(f.States, store.State(st)) {
				f.States = append(f.States, store.State(st))
			}
		}
	}
	f.Purpose = q.Get("purpose")
	if to := q.Get("to"); to != "" {
		if !policy.IsE164(to) {
			return bad("Give to in E.164 form, such as +33612345678 (encode the plus sign as %%2B).")
		}
		f.To = to
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(b.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad("Give %s as an RFC 3339 time such as 2025-03-01T10:00:00Z.", b.name)
		}
		*b.dst = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return bad("Give an until that is not before since.")
	}
	f.Cursor = q.Get("cursor")
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return bad("Give limit as a whole number from 1 to %d.", maxLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := s.backend.Health(r.Context())
	if h.Devices == nil {
		h.Devices = []client.Device{}
	}
	s.writeJSON(w, r, http.StatusOK, h)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.Stats(r.Context())
	if err != nil {
		s.internal(w, r, fmt.Errorf("stats: %w", err))
		return
	}
	out := client.Stats{
		QueueDepth:  st.QueueDepth,
		ByState:     make(map[string]int, len(store.States)),
		Retries:     st.Retries,
		DeadLetters: st.DeadLetters,
	}
	for _, state := range store.States {
		out.ByState[string(state)] = st.ByState[state]
	}
	if !st.OldestQueued.IsZero() {
		out.OldestQueuedAgeSecs = max(0, s.now().Sub(st.OldestQueued).Seconds())
	}
	s.writeJSON(w, r, http.StatusOK, out)
}
