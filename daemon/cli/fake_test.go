package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/daemon/client"
)

// fakeAPI is a hand-written stand-in for the daemon's HTTP API, holding
// messages in memory.
type fakeAPI struct {
	mu   sync.Mutex
	msgs []*client.Message
	// next lists the states a message moves through, one per GET of it.
	next map[string][]string
	dead map[string]bool
	// keys maps idempotency keys to message ids.
	keys   map[string]string
	health client.Health
	stats  client.Stats
	// pageSize caps list pages when the request sets no limit.
	pageSize int
	// nextForNew becomes the next states of the next submitted message.
	nextForNew []string

	// Seen by the handlers, for assertions.
	lastQuery  string
	lastSubmit client.SubmitRequest
}

var (
	t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// ids of the seeded messages.
	idDelivered = "01HQ0000000000000000000001"
	idQueued    = "01HQ0000000000000000000002"
	idFailed    = "01HQ0000000000000000000003"
)

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		msgs: []*client.Message{
			{
				ID: idDelivered, Client: "shop", To: "+336******78", Purpose: "otp", Template: "otp_code",
				State: "delivered", Attempts: 1, MaxAttempts: 5, Parts: 1, Encoding: "gsm7",
				Driver: "sim", DriverRef: "sim-1",
				CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Second), ExpiresAt: t0.Add(5 * time.Minute),
				Events: []client.Event{
					{Seq: 1, At: t0, To: "queued", Reason: "submitted"},
					{Seq: 2, At: t0.Add(time.Second), From: "queued", To: "sending", Driver: "sim", Reason: "leased"},
					{Seq: 3, At: t0.Add(1500 * time.Millisecond), From: "sending", To: "sent", Driver: "sim", Reason: "accepted"},
					{Seq: 4, At: t0.Add(2 * time.Second), From: "sent", To: "delivered", Driver: "sim", Reason: "delivery_report"},
				},
			},
			{
				ID: idQueued, Client: "clinic", To: "+447*******23", Purpose: "reminder", Template: "appointment_reminder",
				Params: map[string]string{"when": "Monday 9:00", "where": "Room 2"},
				State:  "queued", MaxAttempts: 5, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute),
				ExpiresAt: t0.Add(12 * time.Hour),
			},
			{
				ID: idFailed, Client: "shop", To: "+336******11", Purpose: "otp", Template: "otp_code",
				State: "failed", Attempts: 5, MaxAttempts: 5, Driver: "sim",
				LastError: &client.ErrorInfo{Class: "permanent", Code: "invalid_number", Detail: "rejected by the network"},
				CreatedAt: t0.Add(2 * time.Minute), UpdatedAt: t0.Add(7 * time.Minute), ExpiresAt: t0.Add(7 * time.Minute),
			},
		},
		next: map[string][]string{},
		dead: map[string]bool{idFailed: true},
		keys: map[string]string{},
		health: client.Health{
			Status: "ok", Version: "1.2.3", UptimeSeconds: 3723.4,
			Devices: []client.Device{
				{Name: "sim", Type: "sim", State: "ok", Detail: "battery 100%", CheckedAt: t0},
				{Name: "modem", Type: "modem", State: "down", LastError: "no SIM", CheckedAt: t0},
			},
		},
		stats: client.Stats{
			QueueDepth: 1, OldestQueuedAgeSecs: 42.4,
			ByState: map[string]int{"queued": 1, "delivered": 1, "failed": 1, "held": 2},
			Retries: 4, DeadLetters: 1,
		},
	}
}

// serve starts the fake on a Unix socket in a short temporary directory
// and returns the socket path.
func (f *fakeAPI) serve(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "smsgw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f.handler())
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return path
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", f.submit)
	mux.HandleFunc("GET /v1/messages", f.list(false))
	mux.HandleFunc("GET /v1/messages/{id}", f.get)
	mux.HandleFunc("POST /v1/messages/{id}/cancel", f.cancel)
	mux.HandleFunc("GET /v1/dlq", f.list(true))
	mux.HandleFunc("POST /v1/dlq/{id}/requeue", f.requeue)
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, http.StatusOK, f.stats)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, http.StatusOK, f.health)
	})
	return mux
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, p client.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func (f *fakeAPI) find(id string) *client.Message {
	for _, m := range f.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func notFound(w http.ResponseWriter, id string) {
	problem(w, client.Problem{Title: "Not Found", Status: 404, Code: "message_not_found", Detail: "no message " + id})
}

func (f *fakeAPI) submit(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var req client.SubmitRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, client.Problem{Title: "Bad Request", Status: 400, Code: "bad_json", Detail: err.Error()})
		return
	}
	f.lastSubmit = req
	key := r.Header.Get("Idempotency-Key")
	if id, ok := f.keys[key]; ok && key != "" {
		w.Header().Set("Idempotent-Replayed", "true")
		reply(w, http.StatusOK, f.find(id))
		return
	}
	var errs []client.FieldError
	if !strings.HasPrefix(req.To, "+") {
		errs = append(errs, client.FieldError{Field: "to", Code: "invalid_number", Detail: "use E.164, like +33612345678"})
	}
	if req.Purpose != "otp" {
		errs = append(errs, client.FieldError{Field: "purpose", Code: "unknown_purpose", Detail: "known purposes: otp"})
	}
	if len(errs) > 0 {
		problem(w, client.Problem{Title: "Invalid message", Status: 422, Code: "invalid_message", Detail: "the message was refused", Errors: errs})
		return
	}
	m := &client.Message{
		ID: fmt.Sprintf("01HQ00000000000000000001%02d", len(f.msgs)), Client: "cli", To: req.To,
		Purpose: req.Purpose, Template: req.Template, State: "queued", MaxAttempts: 5,
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
	f.msgs = append(f.msgs, m)
	f.next[m.ID], f.nextForNew = f.nextForNew, nil
	if key != "" {
		f.keys[key] = m.ID
	}
	reply(w, http.StatusAccepted, m)
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("id")
	m := f.find(id)
	if m == nil {
		notFound(w, id)
		return
	}
	if next := f.next[id]; len(next) > 0 {
		m.State, f.next[id] = next[0], next[1:]
	}
	reply(w, http.StatusOK, m)
}

func (f *fakeAPI) list(deadOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		f.lastQuery = r.URL.RawQuery
		var states []string
		if s := q.Get("status"); s != "" {
			states = strings.Split(s, ",")
		}
		var match []client.Message
		for _, m := range f.msgs {
			if deadOnly && !f.dead[m.ID] {
				continue
			}
			if len(states) > 0 && !slices.Contains(states, m.State) {
				continue
			}
			if p := q.Get("purpose"); p != "" && m.Purpose != p {
				continue
			}
			c := *m
			c.Events = nil
			match = append(match, c)
		}
		start, _ := strconv.Atoi(q.Get("cursor"))
		size := f.pageSize
		if l, err := strconv.Atoi(q.Get("limit")); err == nil {
			size = l
		}
		if size == 0 {
			size = len(match)
		}
		end := min(start+size, len(match))
		page := client.MessageList{Messages: match[start:end]}
		if end < len(match) {
			page.NextCursor = strconv.Itoa(end)
		}
		reply(w, http.StatusOK, page)
	}
}

func (f *fakeAPI) cancel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("id")
	m := f.find(id)
	switch {
	case m == nil:
		notFound(w, id)
	case m.State != "queued":
		problem(w, client.Problem{Title: "Conflict", Status: 409, Code: "not_cancellable", Detail: "message is " + m.State + ", only queued messages can be cancelled"})
	default:
		m.State = "cancelled"
		reply(w, http.StatusOK, m)
	}
}

func (f *fakeAPI) requeue(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("id")
	m := f.find(id)
	if m == nil || !f.dead[id] {
		notFound(w, id)
		return
	}
	delete(f.dead, id)
	m.State, m.Attempts = "queued", 0
	reply(w, http.StatusOK, m)
}
