package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/policy"
	"smsgw/daemon/store"
)

var testNow = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func testPolicy() *policy.Policy {
	return policy.New(&config.Config{
		Policy: config.Policy{
			Purposes: map[string]config.Purpose{
				"otp":                  {TTL: config.Duration{Duration: 5 * time.Minute}, Templates: []string{"otp_code"}},
				"appointment_reminder": {TTL: config.Duration{Duration: 12 * time.Hour}, Templates: []string{"reminder"}},
			},
			Templates: map[string]config.Template{
				"otp_code": {
					Text:   "Your code is {{.code}}. It expires in 5 minutes.",
					Params: map[string]config.Param{"code": {Secret: true}},
				},
				"reminder": {
					Text:   "Hello {{.name}}, see you on {{.when}}.",
					Params: map[string]config.Param{"name": {}, "when": {}},
				},
			},
		},
		Queue: config.Queue{MaxAttempts: 5},
	})
}

type harness struct {
	srv *Server
	fb  *fakeBackend
	log *syncBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{fb: newFakeBackend(testNow), log: &syncBuffer{}}
	h.srv = New(Options{
		Backend: h.fb,
		Policy:  testPolicy(),
		Config:  config.API{MaxBodyBytes: 4096},
		Log:     debugLogger(h.log),
		Now:     func() time.Time { return testNow },
	})
	return h
}

type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func (h *harness) do(t *testing.T, method, target, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, r)
	return w
}

const otpBody = `{"to":"+33612345678","purpose":"otp","params":{"code":"550055"}}`

// readProblem checks that resp is a well-formed problem+json document with
// the given status and code, and returns it.
func readProblem(t *testing.T, status int, header http.Header, body []byte, wantStatus int, wantCode string) client.Problem {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d; body %s", status, wantStatus, body)
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", header.Get("Content-Type"))
	}
	var p client.Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Code != wantCode || p.Status != wantStatus || p.Type != ProblemTypeBase+wantCode ||
		p.Title != http.StatusText(wantStatus) || p.Detail == "" {
		t.Errorf("problem = %+v, want code %s status %d", p, wantCode, wantStatus)
	}
	return p
}

func recProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code string) client.Problem {
	t.Helper()
	return readProblem(t, w.Code, w.Header(), w.Body.Bytes(), status, code)
}

func decodeMessage(t *testing.T, body []byte) client.Message {
	t.Helper()
	var m client.Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("message body %q: %v", body, err)
	}
	return m
}

func TestSubmitAccepted(t *testing.T) {
	h := newHarness(t)
	w := h.do(t, http.MethodPost, "/v1/messages", otpBody)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	m := decodeMessage(t, w.Body.Bytes())
	if _, err := ulid.ParseStrict(m.ID); err != nil {
		t.Errorf("id %q: %v", m.ID, err)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/messages/"+m.ID {
		t.Errorf("Location = %q", loc)
	}
	// The first answer is kept for replays, so it masks the recipient.
	want := client.Message{
		ID: m.ID, Client: "local", To: "+336******78", Purpose: "otp", Template: "otp_code",
		Params: map[string]string{"code": "[secret]"}, State: "queued", MaxAttempts: 5,
		Parts: 1, Encoding: "gsm7", CreatedAt: testNow, UpdatedAt: testNow,
		ExpiresAt: testNow.Add(5 * time.Minute), NextAttemptAt: &testNow,
	}
	if !jsonEqual(t, m, want) {
		t.Errorf("message\n got %+v\nwant %+v", m, want)
	}
	stored := h.fb.get(m.ID)
	if stored == nil || stored.Params["code"] != "550055" || !slices.Equal(stored.SecretParams, []string{"code"}) {
		t.Errorf("stored message = %+v", stored)
	}
	if strings.Contains(w.Body.String(), "550055") {
		t.Errorf("response shows the secret: %s", w.Body)
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// TestBadInputKeepsServing sends each bad input to a real HTTP server and
// checks for a 4xx problem, then that a good submission still succeeds.
func TestBadInputKeepsServing(t *testing.T) {
	h := newHarness(t)
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()

	big := `{"to":"+33612345678","purpose":"otp","params":{"code":"` + strings.Repeat("1", 10<<20) + `"}}`
	tests := []struct {
		name    string
		body    io.Reader
		ct      string
		headers map[string]string
		status  int
		code    string
		fields  []string
	}{
		{"malformed JSON", strings.NewReader(`{"to":`), "application/json", nil, 400, "malformed_json", nil},
		{"syntax error", strings.NewReader(`{"to" "x"}`), "application/json", nil, 400, "malformed_json", nil},
		{"empty body", strings.NewReader(``), "application/json", nil, 400, "malformed_json", nil},
		{"null", strings.NewReader(`null`), "application/json", nil, 400, "malformed_json", nil},
		{"array", strings.NewReader(`[` + otpBody + `]`), "application/json", nil, 400, "malformed_json", nil},
		{"two objects", strings.NewReader(otpBody + otpBody), "application/json", nil, 400, "malformed_json", nil},
		{"trailing garbage", strings.NewReader(otpBody + ` x`), "application/json", nil, 400, "malformed_json", nil},
		{"wrong content type", strings.NewReader(otpBody), "text/plain", nil, 415, "unsupported_media_type", nil},
		{"form content type", strings.NewReader(`to=%2B33612345678`), "application/x-www-form-urlencoded", nil, 415, "unsupported_media_type", nil},
		{"no content type", strings.NewReader(otpBody), "", nil, 415, "unsupported_media_type", nil},
		{"latin-1 charset", strings.NewReader(otpBody), "application/json; charset=iso-8859-1", nil, 415, "unsupported_media_type", nil},
		{"unknown field", strings.NewReader(`{"to":"+33612345678","purpose":"otp","params":{"code":"1"},"body":"hi"}`), "application/json", nil, 400, "unknown_field", []string{"body"}},
		{"10 MB body", strings.NewReader(big), "application/json", nil, 413, "body_too_large", nil},
		{"10 MB body, length unknown", io.MultiReader(strings.NewReader(big)), "application/json", nil, 413, "body_too_large", nil},
		{"bad number as recipient", strings.NewReader(`{"to":33612345678,"purpose":"otp","params":{"code":"1"}}`), "application/json", nil, 400, "field_type_invalid", []string{"to"}},
		{"number as ttl", strings.NewReader(`{"to":"+33612345678","purpose":"otp","params":{"code":"1"},"ttl":300}`), "application/json", nil, 400, "field_type_invalid", []string{"ttl"}},
		{"number as param", strings.NewReader(`{"to":"+33612345678","purpose":"otp","params":{"code":123456}}`), "application/json", nil, 400, "field_type_invalid", []string{"params"}},
		{"huge number", strings.NewReader(`{"to":1e999999}`), "application/json", nil, 400, "field_type_invalid", []string{"to"}},
		{"unknown purpose", strings.NewReader(`{"to":"+33612345678","purpose":"marketing","template":"otp_code","params":{"code":"1"}}`), "application/json", nil, 422, "purpose_unknown", []string{"purpose"}},
		{"missing template param", strings.NewReader(`{"to":"+33612345678","purpose":"otp"}`), "application/json", nil, 422, "template_param_missing", []string{"params.code"}},
		{"several problems", strings.NewReader(`{"to":"0612","purpose":"otp","params":{"code":"1","x":"2"},"ttl":"1h"}`), "application/json", nil, 422, "recipient_invalid", []string{"to", "params.x", "ttl"}},
		{"empty idempotency key", strings.NewReader(otpBody), "application/json", map[string]string{"Idempotency-Key": ""}, 400, "idempotency_key_invalid", nil},
		{"non-ASCII idempotency key", strings.NewReader(otpBody), "application/json", map[string]string{"Idempotency-Key": "clé"}, 400, "idempotency_key_invalid", nil},
		{"overlong idempotency key", strings.NewReader(otpBody), "application/json", map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, 400, "idempotency_key_invalid", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/messages", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			for k, v := range tt.headers {
				req.Header[k] = []string{v}
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p := readProblem(t, resp.StatusCode, resp.Header, body, tt.status, tt.code)
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("error fields = %v, want %v", fields, tt.fields)
			}

			resp, err = ts.Client().Post(ts.URL+"/v1/messages", "application/json", strings.NewReader(otpBody))
			if err != nil {
				t.Fatalf("good request after bad one: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("good request after bad one: status %d", resp.StatusCode)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	h := newHarness(t)
	key := withHeader("Idempotency-Key", "order-42")

	first := h.do(t, http.MethodPost, "/v1/messages", otpBody, key)
	if first.Code != http.StatusAccepted {
		t.Fatalf("first: status %d %s", first.Code, first.Body)
	}
	if first.Header().Get("Idempotent-Replayed") != "" {
		t.Error("first answer claims to be a replay")
	}

	t.Run("replay", func(t *testing.T) {
		// Same payload with params in another order and other spacing.
		again := h.do(t, http.MethodPost, "/v1/messages", "{ \"params\":{\"code\":\"550055\"}, \"purpose\":\"otp\", \"to\":\"+33612345678\" }", key)
		if again.Code != http.StatusOK {
			t.Fatalf("status %d %s", again.Code, again.Body)
		}
		if !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("replayed body\n%s\ndiffers from\n%s", again.Body, first.Body)
		}
		if again.Header().Get("Idempotent-Replayed") != "true" {
			t.Error("missing Idempotent-Replayed: true")
		}
		if again.Header().Get("Location") != first.Header().Get("Location") {
			t.Errorf("Location %q, want %q", again.Header().Get("Location"), first.Header().Get("Location"))
		}
	})
	t.Run("other payload", func(t *testing.T) {
		other := h.do(t, http.MethodPost, "/v1/messages", `{"to":"+33612345678","purpose":"otp","params":{"code":"654321"}}`, key)
		recProblem(t, other, http.StatusUnprocessableEntity, "idempotency_key_reused")
	})
	t.Run("other key", func(t *testing.T) {
		w := h.do(t, http.MethodPost, "/v1/messages", otpBody, withHeader("Idempotency-Key", "order-43"))
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("no key", func(t *testing.T) {
		w := h.do(t, http.MethodPost, "/v1/messages", otpBody)
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d", w.Code)
		}
	})
	if n := h.fb.submitCount(); n != 3 {
		t.Errorf("backend accepted %d messages, want 3", n)
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	h := newHarness(t)
	h.fb.entered = make(chan struct{})
	h.fb.release = make(chan struct{})
	key := withHeader("Idempotency-Key", "k1")

	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- h.do(t, http.MethodPost, "/v1/messages", otpBody, key) }()
	<-h.fb.entered // the first request holds the key inside Submit

	second := h.do(t, http.MethodPost, "/v1/messages", otpBody, key)
	recProblem(t, second, http.StatusConflict, "idempotency_key_in_flight")

	close(h.fb.release)
	first := <-done
	if first.Code != http.StatusAccepted {
		t.Fatalf("first: status %d %s", first.Code, first.Body)
	}

	// Once answered, the key replays. entered must not block any more.
	h.fb.entered = nil
	third := h.do(t, http.MethodPost, "/v1/messages", otpBody, key)
	if third.Code != http.StatusOK || !bytes.Equal(third.Body.Bytes(), first.Body.Bytes()) {
		t.Errorf("after release: status %d body %s", third.Code, third.Body)
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	h := newHarness(t)
	const n = 50
	var (
		wg      sync.WaitGroup
		results = make([]*httptest.ResponseRecorder, n)
		start   = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = h.do(t, http.MethodPost, "/v1/messages", otpBody, withHeader("Idempotency-Key", "same"))
		})
	}
	close(start)
	wg.Wait()

	var accepted []byte
	counts := map[int]int{}
	for _, w := range results {
		counts[w.Code]++
		if w.Code == http.StatusAccepted {
			accepted = w.Body.Bytes()
		}
	}
	if counts[http.StatusAccepted] != 1 || counts[http.StatusAccepted]+counts[http.StatusOK]+counts[http.StatusConflict] != n {
		t.Fatalf("status counts %v, want one 202 and the rest 200 or 409", counts)
	}
	for _, w := range results {
		switch w.Code {
		case http.StatusOK:
			if !bytes.Equal(w.Body.Bytes(), accepted) || w.Header().Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay differs: %s", w.Body)
			}
		case http.StatusConflict:
			recProblem(t, w, http.StatusConflict, "idempotency_key_in_flight")
		}
	}
	if got := h.fb.submitCount(); got != 1 {
		t.Errorf("backend accepted %d messages, want 1", got)
	}
}

func TestFingerprint(t *testing.T) {
	base := client.SubmitRequest{To: "+33612345678", Purpose: "otp", Template: "otp_code", Params: map[string]string{"a": "1", "b": "2"}, TTL: "1m"}
	mod := func(f func(*client.SubmitRequest)) client.SubmitRequest {
		r := base
		r.Params = map[string]string{"a": "1", "b": "2"}
		f(&r)
		return r
	}
	same := []client.SubmitRequest{
		mod(func(r *client.SubmitRequest) {}),
		mod(func(r *client.SubmitRequest) { r.Params = map[string]string{"b": "2", "a": "1"} }),
	}
	different := []client.SubmitRequest{
		mod(func(r *client.SubmitRequest) { r.To = "+33612345679" }),
		mod(func(r *client.SubmitRequest) { r.Purpose = "otp2" }),
		mod(func(r *client.SubmitRequest) { r.Template = "" }),
		mod(func(r *client.SubmitRequest) { r.TTL = "" }),
		mod(func(r *client.SubmitRequest) { r.Params["b"] = "3" }),
		mod(func(r *client.SubmitRequest) { r.Params["c"] = "" }),
		mod(func(r *client.SubmitRequest) { r.Params = map[string]string{"a": "12"} }),
		mod(func(r *client.SubmitRequest) { r.Params = nil }),
		// Moving bytes between fields must change the fingerprint.
		mod(func(r *client.SubmitRequest) { r.To, r.Purpose = "+33612345678o", "tp" }),
	}
	want := fingerprint(base)
	for i, r := range same {
		if got := fingerprint(r); got != want {
			t.Errorf("same[%d]: fingerprint differs", i)
		}
	}
	seen := map[string]int{}
	for i, r := range different {
		got := fingerprint(r)
		if got == want {
			t.Errorf("different[%d]: fingerprint equals the base", i)
		}
		if j, ok := seen[got]; ok {
			t.Errorf("different[%d] and [%d] share a fingerprint", i, j)
		}
		seen[got] = i
	}
}

func seedMessages(h *harness) (queued, sent, dead, deadExpired, deadErased *store.Message) {
	mk := func(id string, state store.State, mod func(*store.Message)) *store.Message {
		m := &store.Message{
			ID: id, Client: "local", To: "+33612345678", Purpose: "otp", Template: "otp_code",
			Params: map[string]string{"code": "987654"}, SecretParams: []string{"code"},
			State: state, MaxAttempts: 5, Parts: 1, Encoding: "gsm7",
			CreatedAt: testNow, UpdatedAt: testNow, DueAt: testNow, ExpiresAt: testNow.Add(5 * time.Minute),
		}
		if mod != nil {
			mod(m)
		}
		h.fb.put(m, store.Event{Seq: 1, At: testNow, To: store.Queued, Reason: "submitted"},
			store.Event{Seq: 2, At: testNow, From: store.Queued, To: state, Driver: "sim", Reason: "test"})
		return m
	}
	queued = mk("01JNBQ0000000000000000000A", store.Queued, nil)
	sent = mk("01JNBQ0000000000000000000B", store.Sent, func(m *store.Message) {
		m.Driver, m.DriverRef, m.Attempts = "sim", "ref-1", 1
		m.Params = map[string]string{"name": "Ann"}
		m.SecretParams = nil
		m.Template = "reminder"
	})
	dead = mk("01JNBQ0000000000000000000C", store.Failed, func(m *store.Message) {
		m.Dead, m.Attempts = true, 5
		m.LastError = &store.Failure{Class: "transient", Code: "timeout", Detail: "no answer"}
	})
	deadExpired = mk("01JNBQ0000000000000000000D", store.Failed, func(m *store.Message) {
		m.Dead = true
		m.ExpiresAt = testNow.Add(-time.Minute)
	})
	deadErased = mk("01JNBQ0000000000000000000E", store.Failed, func(m *store.Message) {
		m.Dead, m.Erased = true, true
		m.Params = nil
	})
	return
}

func TestGetMessage(t *testing.T) {
	h := newHarness(t)
	queued, sent, dead, _, erased := seedMessages(h)

	tests := []struct {
		name   string
		id     string
		params map[string]string
	}{
		{"secret shown as placeholder", queued.ID, map[string]string{"code": "[secret]"}},
		{"plain params shown", sent.ID, map[string]string{"name": "Ann"}},
		{"erased params gone", erased.ID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.do(t, http.MethodGet, "/v1/messages/"+tt.id, "")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			m := decodeMessage(t, w.Body.Bytes())
			if m.ID != tt.id || m.To != "+33612345678" {
				t.Errorf("id %s to %s: want the full number", m.ID, m.To)
			}
			if !jsonEqual(t, m.Params, tt.params) {
				t.Errorf("params = %v, want %v", m.Params, tt.params)
			}
			if len(m.Events) != 2 || m.Events[1].From != "queued" || m.Events[1].Driver != "sim" {
				t.Errorf("events = %+v", m.Events)
			}
			if strings.Contains(w.Body.String(), "987654") {
				t.Error("secret value in the response")
			}
		})
	}

	t.Run("last error and next attempt", func(t *testing.T) {
		m := decodeMessage(t, h.do(t, http.MethodGet, "/v1/messages/"+dead.ID, "").Body.Bytes())
		if m.LastError == nil || m.LastError.Code != "timeout" || m.NextAttemptAt != nil {
			t.Errorf("got last_error %+v next_attempt_at %v", m.LastError, m.NextAttemptAt)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		recProblem(t, h.do(t, http.MethodGet, "/v1/messages/01JNBQ0000000000000000000Z", ""), 404, "message_not_found")
	})
	t.Run("not a ULID", func(t *testing.T) {
		recProblem(t, h.do(t, http.MethodGet, "/v1/messages/..%2f..%2fetc", ""), 404, "message_not_found")
	})
}

func TestListMessages(t *testing.T) {
	h := newHarness(t)
	seedMessages(h)

	w := h.do(t, http.MethodGet, "/v1/messages?limit=2", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var page client.MessageList
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.NextCursor == "" {
		t.Fatalf("page = %d messages, cursor %q", len(page.Messages), page.NextCursor)
	}
	for _, m := range page.Messages {
		if m.To != "+336******78" {
			t.Errorf("listed recipient %q is not masked", m.To)
		}
		if m.Events != nil {
			t.Errorf("list carries events")
		}
	}
	if strings.Contains(w.Body.String(), "987654") || strings.Contains(w.Body.String(), "+33612345678") {
		t.Errorf("list leaks a secret or a number: %s", w.Body)
	}

	w = h.do(t, http.MethodGet, "/v1/messages?limit=2&cursor="+page.NextCursor, "")
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 {
		t.Errorf("second page has %d messages", len(page.Messages))
	}

	w = h.do(t, http.MethodGet, "/v1/messages?status=delivered", "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"messages":[]}` {
		t.Errorf("empty list = %d %s", w.Code, w.Body)
	}
}

func TestListQuery(t *testing.T) {
	since := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 3, 2, 0, 0, 0, 0, time.FixedZone("", 3600))
	tests := []struct {
		query string
		want  store.Filter
	}{
		{"", store.Filter{Limit: 100}},
		{"status=queued", store.Filter{States: []store.State{store.Queued}, Limit: 100}},
		{"status=queued,failed&status=sent&status=queued", store.Filter{States: []store.State{store.Queued, store.Failed, store.Sent}, Limit: 100}},
		{"purpose=otp&to=%2B33612345678", store.Filter{Purpose: "otp", To: "+33612345678", Limit: 100}},
		{"since=2025-03-01T00:00:00Z&until=2025-03-02T00:00:00%2B01:00", store.Filter{Since: since, Until: until, Limit: 100}},
		{"cursor=7&limit=1", store.Filter{Cursor: "7", Limit: 1}},
		{"limit=1000", store.Filter{Limit: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			h := newHarness(t)
			for _, path := range []string{"/v1/messages", "/v1/dlq"} {
				w := h.do(t, http.MethodGet, path+"?"+tt.query, "")
				if w.Code != http.StatusOK {
					t.Fatalf("%s: status %d %s", path, w.Code, w.Body)
				}
				want := tt.want
				want.DeadOnly = path == "/v1/dlq"
				if got := h.fb.lastFilter(); !filterEqual(got, want) {
					t.Errorf("%s: filter\n got %+v\nwant %+v", path, got, want)
				}
			}
		})
	}
}

func filterEqual(a, b store.Filter) bool {
	return slices.Equal(a.States, b.States) && a.Purpose == b.Purpose && a.To == b.To &&
		a.Client == b.Client && a.Since.Equal(b.Since) && a.Until.Equal(b.Until) &&
		a.DeadOnly == b.DeadOnly && a.Cursor == b.Cursor && a.Limit == b.Limit
}

func TestListQueryInvalid(t *testing.T) {
	h := newHarness(t)
	for _, q := range []string{
		"status=bogus", "status=queued,", "status=", "to=0612345678", "to=+33612345678",
		"since=yesterday", "until=2025-03-01", "since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z",
		"limit=0", "limit=1001", "limit=ten", "limit=1&limit=2", "state=queued",
	} {
		for _, path := range []string{"/v1/messages", "/v1/dlq"} {
			t.Run(path+"?"+q, func(t *testing.T) {
				recProblem(t, h.do(t, http.MethodGet, path+"?"+q, ""), 400, "query_invalid")
			})
		}
	}
}

func TestDLQ(t *testing.T) {
	h := newHarness(t)
	seedMessages(h)
	w := h.do(t, http.MethodGet, "/v1/dlq", "")
	var page client.MessageList
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 3 {
		t.Fatalf("dlq has %d messages, want 3", len(page.Messages))
	}
	for _, m := range page.Messages {
		if m.State != "failed" || m.To != "+336******78" {
			t.Errorf("dlq entry %+v", m)
		}
	}
}

func TestCancelAndRequeue(t *testing.T) {
	h := newHarness(t)
	queued, sent, dead, deadExpired, deadErased := seedMessages(h)
	tests := []struct {
		name   string
		path   string
		status int
		code   string // problem code, or the new state on success
		detail string
	}{
		{"cancel queued", "/v1/messages/" + queued.ID + "/cancel", 200, "cancelled", ""},
		{"cancel again", "/v1/messages/" + queued.ID + "/cancel", 409, "invalid_state", "is cancelled"},
		{"cancel sent", "/v1/messages/" + sent.ID + "/cancel", 409, "invalid_state", "is sent"},
		{"cancel unknown", "/v1/messages/01JNBQ0000000000000000000Z/cancel", 404, "message_not_found", ""},
		{"cancel not an id", "/v1/messages/nope/cancel", 404, "message_not_found", ""},
		{"requeue dead", "/v1/dlq/" + dead.ID + "/requeue", 200, "queued", ""},
		{"requeue queued", "/v1/dlq/" + dead.ID + "/requeue", 409, "invalid_state", "is queued"},
		{"requeue expired", "/v1/dlq/" + deadExpired.ID + "/requeue", 409, "message_expired", ""},
		{"requeue erased", "/v1/dlq/" + deadErased.ID + "/requeue", 409, "content_erased", ""},
		{"requeue unknown", "/v1/dlq/01JNBQ0000000000000000000Z/requeue", 404, "message_not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.do(t, http.MethodPost, tt.path, "")
			if tt.status == http.StatusOK {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d %s", w.Code, w.Body)
				}
				if m := decodeMessage(t, w.Body.Bytes()); m.State != tt.code || m.To != "+33612345678" {
					t.Errorf("state %s to %s", m.State, m.To)
				}
				return
			}
			p := recProblem(t, w, tt.status, tt.code)
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tt.detail)
			}
		})
	}
}

func TestHealthAndStats(t *testing.T) {
	h := newHarness(t)
	h.fb.stats = store.Stats{
		ByState:      map[store.State]int{store.Queued: 3, store.Failed: 1},
		QueueDepth:   3,
		OldestQueued: testNow.Add(-90 * time.Second),
		Retries:      4,
		DeadLetters:  1,
	}

	w := h.do(t, http.MethodGet, "/v1/health", "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"status":"ok","version":"test","uptime_seconds":12,"devices":[]}` {
		t.Errorf("health = %d %s", w.Code, w.Body)
	}

	w = h.do(t, http.MethodGet, "/v1/stats", "")
	var st client.Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	want := client.Stats{
		QueueDepth: 3, OldestQueuedAgeSecs: 90, Retries: 4, DeadLetters: 1,
		ByState: map[string]int{"queued": 3, "sending": 0, "sent": 0, "delivered": 0, "failed": 1, "expired": 0, "cancelled": 0, "unknown": 0},
	}
	if !jsonEqual(t, st, want) {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t)
	id := "01JNBQ0000000000000000000A"
	tests := []struct {
		method, path string
		status       int
		code         string
		allow        string
	}{
		{http.MethodDelete, "/v1/messages", 405, "method_not_allowed", "POST, GET, HEAD"},
		{http.MethodPut, "/v1/messages/" + id, 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/v1/messages/" + id + "/cancel", 405, "method_not_allowed", "POST"},
		{http.MethodPost, "/v1/dlq", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/v1/dlq/" + id + "/requeue", 405, "method_not_allowed", "POST"},
		{http.MethodPost, "/v1/health", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodDelete, "/v1/stats", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/", 404, "not_found", ""},
		{http.MethodGet, "/v2/messages", 404, "not_found", ""},
		{http.MethodGet, "/v1/messages/" + id + "/events", 404, "not_found", ""},
		{http.MethodPost, "/v1/dlq/" + id, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := h.do(t, tt.method, tt.path, "")
			recProblem(t, w, tt.status, tt.code)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	h := newHarness(t)
	h.fb.panicStats = true
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()

	resp, err := ts.Client().Get(ts.URL + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	readProblem(t, resp.StatusCode, resp.Header, body, 500, "internal")
	if !strings.Contains(h.log.String(), "handler panic") || !strings.Contains(h.log.String(), "stats exploded") {
		t.Errorf("panic not logged:\n%s", h.log)
	}

	resp, err = ts.Client().Get(ts.URL + "/v1/health")
	if err != nil {
		t.Fatalf("after panic: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after panic: status %d", resp.StatusCode)
	}
}

func TestBackendErrorIs500(t *testing.T) {
	h := newHarness(t)
	seedMessages(h)
	h.fb.err = fmt.Errorf("badger: %w", errors.New("disk on fire"))
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/messages", otpBody},
		{http.MethodGet, "/v1/messages/01JNBQ0000000000000000000A", ""},
		{http.MethodGet, "/v1/messages", ""},
		{http.MethodPost, "/v1/messages/01JNBQ0000000000000000000A/cancel", ""},
		{http.MethodPost, "/v1/dlq/01JNBQ0000000000000000000C/requeue", ""},
		{http.MethodGet, "/v1/stats", ""},
	} {
		w := h.do(t, tc.method, tc.path, tc.body)
		p := recProblem(t, w, 500, "internal")
		if strings.Contains(p.Detail, "disk on fire") {
			t.Errorf("%s %s: internal error leaked: %q", tc.method, tc.path, p.Detail)
		}
	}
	if !strings.Contains(h.log.String(), "disk on fire") {
		t.Errorf("backend error not logged:\n%s", h.log)
	}
}

// TestLogsHideContent checks the access log is there and never carries
// numbers, params or bodies.
func TestLogsHideContent(t *testing.T) {
	h := newHarness(t)
	w := h.do(t, http.MethodPost, "/v1/messages", otpBody)
	id := decodeMessage(t, w.Body.Bytes()).ID
	h.do(t, http.MethodGet, "/v1/messages?to=%2B33612345678", "")
	h.do(t, http.MethodGet, "/v1/messages/"+id, "")
	h.do(t, http.MethodPost, "/v1/messages", `{"to":"+33612345678","purpose":"otp","params":{"code":"550055","x":"y"}}`)

	logs := h.log.String()
	for _, want := range []string{"method=POST path=/v1/messages status=202", "path=/v1/messages/" + id + " status=200", "status=422", "duration=", "+336******78"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"+33612345678", "33612345678", "550055", "Your code"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log carries %q:\n%s", secret, logs)
		}
	}
}
