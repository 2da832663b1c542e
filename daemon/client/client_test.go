package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveUnix serves h on a Unix socket in a short temporary directory and
// returns the socket path.
func serveUnix(t *testing.T, h http.Handler) string {
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
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return path
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// recorded is what a handler saw of one request.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	body                   string
}

// recorder answers every request with one canned response and keeps the
// last request.
type recorder struct {
	mu     sync.Mutex
	last   recorded
	status int
	header http.Header
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.last = recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), string(b)}
	r.mu.Unlock()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(r.status)
	io.WriteString(w, r.body)
}

func (r *recorder) request() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

const msgJSON = `{"id":"01J0000000000000000000000A","client":"shop","to":"+336******78","purpose":"otp","template":"otp_code","state":"queued","attempts":0,"max_attempts":5,"parts":1,"encoding":"gsm7","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","expires_at":"2026-01-02T03:09:05Z"}`

func TestRoutes(t *testing.T) {
	ctx := context.Background()
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := `{"messages":[` + msgJSON + `],"next_cursor":"c2"}`
	tests := []struct {
		name       string
		call       func(c *Client) (any, error)
		respBody   string
		wantMethod string
		wantPath   string
		wantQuery  string
		check      func(t *testing.T, got any)
	}{
		{
			name:       "message",
			call:       func(c *Client) (any, error) { return c.Message(ctx, "01J0000000000000000000000A") },
			respBody:   msgJSON,
			wantMethod: "GET", wantPath: "/v1/messages/01J0000000000000000000000A",
			check: func(t *testing.T, got any) {
				m := got.(*Message)
				if m.ID != "01J0000000000000000000000A" || m.State != "queued" || m.MaxAttempts != 5 || !m.CreatedAt.Equal(since) {
					t.Errorf("decoded %+v", m)
				}
			},
		},
		{
			name: "messages with filters",
			call: func(c *Client) (any, error) {
				return c.Messages(ctx, ListOptions{
					States: []string{"failed", "unknown"}, Purpose: "otp", To: "+33612345678",
					Since: since, Until: since.Add(time.Hour), Cursor: "c1", Limit: 20,
				})
			},
			respBody:   list,
			wantMethod: "GET", wantPath: "/v1/messages",
			wantQuery: "cursor=c1&limit=20&purpose=otp&since=2026-01-02T03%3A04%3A05Z&status=failed%2Cunknown&to=%2B33612345678&until=2026-01-02T04%3A04%3A05Z",
			check: func(t *testing.T, got any) {
				l := got.(*MessageList)
				if len(l.Messages) != 1 || l.NextCursor != "c2" {
					t.Errorf("decoded %+v", l)
				}
			},
		},
		{
			name:       "messages unfiltered",
			call:       func(c *Client) (any, error) { return c.Messages(ctx, ListOptions{}) },
			respBody:   `{"messages":[]}`,
			wantMethod: "GET", wantPath: "/v1/messages", wantQuery: "",
		},
		{
			name:       "cancel",
			call:       func(c *Client) (any, error) { return c.Cancel(ctx, "A1") },
			respBody:   msgJSON,
			wantMethod: "POST", wantPath: "/v1/messages/A1/cancel",
		},
		{
			name:       "dead letters",
			call:       func(c *Client) (any, error) { return c.DeadLetters(ctx, ListOptions{Limit: 5}) },
			respBody:   list,
			wantMethod: "GET", wantPath: "/v1/dlq", wantQuery: "limit=5",
		},
		{
			name:       "requeue",
			call:       func(c *Client) (any, error) { return c.Requeue(ctx, "A1") },
			respBody:   msgJSON,
			wantMethod: "POST", wantPath: "/v1/dlq/A1/requeue",
		},
		{
			name:       "stats",
			call:       func(c *Client) (any, error) { return c.Stats(ctx) },
			respBody:   `{"queue_depth":3,"oldest_queued_age_seconds":12.5,"by_state":{"queued":3,"sent":7},"retries":2,"dead_letters":1}`,
			wantMethod: "GET", wantPath: "/v1/stats",
			check: func(t *testing.T, got any) {
				want := &Stats{QueueDepth: 3, OldestQueuedAgeSecs: 12.5, ByState: map[string]int{"queued": 3, "sent": 7}, Retries: 2, DeadLetters: 1}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v, want %+v", got, want)
				}
			},
		},
		{
			name:       "health",
			call:       func(c *Client) (any, error) { return c.Health(ctx) },
			respBody:   `{"status":"ok","version":"1.0","uptime_seconds":60,"devices":[{"name":"sim","type":"sim","state":"ok","checked_at":"2026-01-02T03:04:05Z"}]}`,
			wantMethod: "GET", wantPath: "/v1/health",
			check: func(t *testing.T, got any) {
				h := got.(*Health)
				if h.Status != "ok" || len(h.Devices) != 1 || h.Devices[0].Name != "sim" {
					t.Errorf("decoded %+v", h)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: http.StatusOK, body: tt.respBody}
			c := NewUnix(serveUnix(t, rec))
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			r := rec.request()
			if r.method != tt.wantMethod || r.path != tt.wantPath || r.rawQuery != tt.wantQuery {
				t.Errorf("request %s %s?%s, want %s %s?%s", r.method, r.path, r.rawQuery, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			if r.header.Get("Authorization") != "" {
				t.Errorf("Unix client sent Authorization %q", r.header.Get("Authorization"))
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	tests := []struct {
		name         string
		key          string
		status       int
		replayHeader string
		wantReplayed bool
	}{
		{"accepted", "k-1", http.StatusAccepted, "", false},
		{"replayed", "k-1", http.StatusOK, "true", true},
		{"no key", "", http.StatusAccepted, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: msgJSON, header: http.Header{}}
			if tt.replayHeader != "" {
				rec.header.Set("Idempotent-Replayed", tt.replayHeader)
			}
			c := NewUnix(serveUnix(t, rec))
			req := SubmitRequest{To: "+33612345678", Purpose: "otp", Template: "otp_code", Params: map[string]string{"code": "123456"}, TTL: "2m"}
			m, replayed, err := c.Submit(context.Background(), req, tt.key)
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if replayed != tt.wantReplayed {
				t.Errorf("replayed = %v, want %v", replayed, tt.wantReplayed)
			}
			if m.ID != "01J0000000000000000000000A" {
				t.Errorf("message id %q", m.ID)
			}
			r := rec.request()
			if r.method != "POST" || r.path != "/v1/messages" {
				t.Errorf("request %s %s", r.method, r.path)
			}
			if got := r.header.Get("Idempotency-Key"); got != tt.key {
				t.Errorf("Idempotency-Key %q, want %q", got, tt.key)
			}
			if _, sent := r.header["Idempotency-Key"]; sent != (tt.key != "") {
				t.Errorf("Idempotency-Key header sent = %v with key %q", sent, tt.key)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var sent SubmitRequest
			if err := json.Unmarshal([]byte(r.body), &sent); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if !reflect.DeepEqual(sent, req) {
				t.Errorf("sent %+v, want %+v", sent, req)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   Problem
	}{
		{
			name:   "problem json",
			status: http.StatusUnprocessableEntity,
			ctype:  "application/problem+json",
			body:   `{"type":"about:blank","title":"Invalid request","status":422,"code":"invalid_request","detail":"2 problems","errors":[{"field":"to","code":"invalid_number","detail":"not E.164"},{"field":"purpose","code":"unknown_purpose","detail":"no such purpose"}]}`,
			want: Problem{Type: "about:blank", Title: "Invalid request", Status: 422, Code: "invalid_request", Detail: "2 problems", Errors: []FieldError{
				{Field: "to", Code: "invalid_number", Detail: "not E.164"},
				{Field: "purpose", Code: "unknown_purpose", Detail: "no such purpose"},
			}},
		},
		{
			name:   "problem json with charset and no status",
			status: http.StatusTooManyRequests,
			ctype:  "application/problem+json; charset=utf-8",
			body:   `{"title":"Slow down","code":"rate_limited","detail":"5/1h per recipient"}`,
			want:   Problem{Title: "Slow down", Status: 429, Code: "rate_limited", Detail: "5/1h per recipient"},
		},
		{
			name:   "plain text",
			status: http.StatusNotFound,
			ctype:  "text/plain; charset=utf-8",
			body:   "404 page not found\n",
			want:   Problem{Title: "Not Found", Status: 404, Code: "http_404", Detail: "404 page not found"},
		},
		{
			name:   "broken problem json",
			status: http.StatusInternalServerError,
			ctype:  "application/problem+json",
			body:   `{"title":`,
			want:   Problem{Title: "Internal Server Error", Status: 500, Code: "http_500", Detail: `{"title":`},
		},
		{
			name:   "empty body",
			status: http.StatusBadGateway,
			ctype:  "application/json",
			want:   Problem{Title: "Bad Gateway", Status: 502, Code: "http_502"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: tt.body, header: http.Header{"Content-Type": {tt.ctype}}}
			c := NewUnix(serveUnix(t, rec))
			_, err := c.Message(context.Background(), "X")
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v (%T), want *Problem", err, err)
			}
			if !reflect.DeepEqual(*p, tt.want) {
				t.Errorf("problem %+v, want %+v", *p, tt.want)
			}
		})
	}
}

func TestNotRunning(t *testing.T) {
	dir, err := os.MkdirTemp("", "smsgw")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	missing := filepath.Join(dir, "missing.sock")

	// A socket file that nobody accepts on: bind, then close the listener
	// without removing the file.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	for _, path := range []string{missing, stale} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := NewUnix(path).Health(context.Background())
			var nr *NotRunningError
			if !errors.As(err, &nr) {
				t.Fatalf("error %v (%T), want *NotRunningError", err, err)
			}
			want := "smsgw is not running (no socket at " + path + "); start it with `smsgw run`"
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestNewHTTPBearerToken(t *testing.T) {
	tests := []struct {
		token string
		want  string
	}{
		{"s3cret", "Bearer s3cret"},
		{"", ""},
	}
	for _, tt := range tests {
		rec := &recorder{status: http.StatusOK, body: `{"status":"ok"}`}
		srv := httptest.NewServer(rec)
		c := NewHTTP(srv.URL+"/", tt.token)
		if _, err := c.Health(context.Background()); err != nil {
			t.Fatalf("Health: %v", err)
		}
		srv.Close()
		r := rec.request()
		if got := r.header.Get("Authorization"); got != tt.want {
			t.Errorf("token %q: Authorization %q, want %q", tt.token, got, tt.want)
		}
		if r.path != "/v1/health" {
			t.Errorf("path %q", r.path)
		}
	}
}

// stepper serves a message whose state advances one step per GET.
type stepper struct {
	mu     sync.Mutex
	states []string
	gets   int
}

func (s *stepper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(s.gets, len(s.states)-1)
	s.gets++
	state := s.states[i]
	s.mu.Unlock()
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/messages/") {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, Message{ID: strings.TrimPrefix(r.URL.Path, "/v1/messages/"), State: state})
}

func (s *stepper) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

func TestWait(t *testing.T) {
	tests := []struct {
		name      string
		states    []string
		waitFor   []string
		wantState string
		wantGets  int
	}{
		{"reaches wanted state", []string{"queued", "sending", "sent", "delivered"}, []string{"sent"}, "sent", 3},
		{"stops at terminal state", []string{"queued", "failed"}, []string{"delivered"}, "failed", 2},
		{"no states means terminal", []string{"queued", "sent", "delivered"}, nil, "delivered", 3},
		{"already there", []string{"cancelled"}, []string{"delivered"}, "cancelled", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stepper{states: tt.states}
			c := NewUnix(serveUnix(t, s))
			m, err := c.Wait(context.Background(), "M1", tt.waitFor...)
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if m.State != tt.wantState || m.ID != "M1" {
				t.Errorf("message %s in %q, want M1 in %q", m.ID, m.State, tt.wantState)
			}
			if got := s.count(); got != tt.wantGets {
				t.Errorf("%d GETs, want %d", got, tt.wantGets)
			}
		})
	}
}

func TestWaitContextEnds(t *testing.T) {
	s := &stepper{states: []string{"unknown"}}
	c := NewUnix(serveUnix(t, s))
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the daemon has been asked twice.
	go func() {
		for s.count() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	m, err := c.Wait(ctx, "M1", "delivered")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if m == nil || m.State != "unknown" {
		t.Fatalf("last message %+v, want one in unknown", m)
	}
	if !strings.Contains(err.Error(), "still unknown") {
		t.Errorf("error %q does not say the last state", err)
	}
}

func TestWaitProblem(t *testing.T) {
	rec := &recorder{status: http.StatusNotFound, header: http.Header{"Content-Type": {"application/problem+json"}}, body: `{"status":404,"code":"not_found","title":"Not Found"}`}
	c := NewUnix(serveUnix(t, rec))
	_, err := c.Wait(context.Background(), "nope")
	var p *Problem
	if !errors.As(err, &p) || p.Code != "not_found" {
		t.Fatalf("error %v, want not_found problem", err)
	}
}

func TestIsTerminal(t *testing.T) {
	want := map[string]bool{
		"queued": false, "sending": false, "sent": false, "unknown": false,
		"delivered": true, "failed": true, "expired": true, "cancelled": true,
	}
	for state, terminal := range want {
		if got := IsTerminal(state); got != terminal {
			t.Errorf("IsTerminal(%q) = %v, want %v", state, got, terminal)
		}
	}
}
