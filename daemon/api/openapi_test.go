package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"smsgw/config"
	"smsgw/daemon/store"
)

// fakeLists is an in-memory opt-out list, consent list and journal.
type fakeLists struct {
	mu       sync.Mutex
	optOuts  map[string]bool
	consents map[string]bool
	journal  []store.JournalEntry
}

func newFakeLists() *fakeLists {
	return &fakeLists{optOuts: map[string]bool{}, consents: map[string]bool{}}
}

func (f *fakeLists) SetOptOut(_ context.Context, e164 string, out bool, source, keyword string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := f.optOuts[e164] != out
	f.optOuts[e164] = out
	kind := "opted_in"
	if out {
		kind = "opted_out"
	}
	f.journal = append(f.journal, store.JournalEntry{At: testNow, Kind: kind, Recipient: "+336******78", Source: source, Keyword: keyword})
	return changed, nil
}

func (f *fakeLists) OptOuts(context.Context) ([]store.OptOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.OptOut
	for n, v := range f.optOuts {
		if v {
			out = append(out, store.OptOut{Recipient: n[:4] + "******" + n[len(n)-2:], Source: "api:ops", At: testNow})
		}
	}
	return out, nil
}

func (f *fakeLists) SetConsent(_ context.Context, e164, purpose string, give bool, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := e164 + "/" + purpose
	changed := f.consents[k] != give
	f.consents[k] = give
	return changed, nil
}

func (f *fakeLists) Consents(_ context.Context, e164 string) ([]store.Consent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Consent
	for k, v := range f.consents {
		if n, p, _ := strings.Cut(k, "/"); v && n == e164 {
			out = append(out, store.Consent{Recipient: "+336******78", Purpose: p, Source: "api:ops", At: testNow})
		}
	}
	return out, nil
}

func (f *fakeLists) Journal(context.Context, time.Time, int) ([]store.JournalEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.JournalEntry(nil), f.journal...), nil
}

// exchange is one recorded request and its real answer.
type exchange struct {
	method, path, query string
	reqHeader           http.Header
	reqBody             string
	status              int
	header              http.Header
	body                []byte
}

// TestOpenAPI sends real requests to a real server, on the Unix socket as
// an admin and on a LAN listener as a token client, and validates every
// answer against the embedded OpenAPI document: status documented, headers
// and body matching their schemas. Every operation must be exercised.
func TestOpenAPI(t *testing.T) {
	ctx := t.Context()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)

	st := openStore(t)
	clients := []config.Client{
		{Name: "shop", TokenSHA256: shopDigest, Purposes: []string{"otp"}},
		{Name: "ops", UnixUIDs: []int{os.Getuid()}, Admin: true, Purposes: []string{"otp", "appointment_reminder"}},
	}
	fb := newFakeBackend(testNow)
	srv := New(Options{
		Backend: fb, Lists: newFakeLists(), Events: st, Policy: accessPolicy(clients), Clients: clients,
		Config: config.API{MaxBodyBytes: 1024},
		Now:    func() time.Time { return testNow },
	})
	sctx, cancel := context.WithCancel(ctx)
	lln, err := ListenLAN(sctx, "127.0.0.1:0", LANOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "smsgw-oa")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	uln, err := ListenUnix(dir+"/api.sock", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- srv.ServeLAN(sctx, lln, nil) }()
	go func() { done <- srv.Serve(sctx, uln) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	admin := unixClient(dir + "/api.sock")
	lan := &http.Client{}
	lanBase := "http://" + lln.Addr().String()

	var recorded []exchange
	do := func(c *http.Client, base, method, target, token, body string, hdr ...string) exchange {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		u, _ := url.Parse(target)
		ex := exchange{method: method, path: u.Path, query: u.RawQuery, reqHeader: req.Header, reqBody: body, status: resp.StatusCode, header: resp.Header, body: b}
		recorded = append(recorded, ex)
		return ex
	}
	adm := func(method, target, body string, hdr ...string) exchange {
		return do(admin, "http://smsgw", method, target, "", body, hdr...)
	}
	shop := func(method, target, body string, hdr ...string) exchange {
		return do(lan, lanBase, method, target, shopToken, body, hdr...)
	}

	// Messages.
	sub := adm("POST", "/v1/messages", otpBody, "Idempotency-Key", "k1")
	var m struct{ ID string }
	_ = json.Unmarshal(sub.body, &m)
	adm("POST", "/v1/messages", otpBody, "Idempotency-Key", "k1")                              // replay 200
	adm("POST", "/v1/messages", `{"to":`)                                                      // 400
	adm("POST", "/v1/messages", `{"to":"+33612345678","purpose":"nope"}`)                      // 422
	adm("POST", "/v1/messages", `{"to":"`+strings.Repeat("1", 2000)+`"}`)                      // 413
	do(admin, "http://smsgw", "POST", "/v1/messages", "", "x=1", "Content-Type", "text/plain") // 415
	fb.mu.Lock()
	fb.submitErr = &store.RateLimitError{Limit: store.Limit{Scope: store.ScopeClient, Count: 5, Window: time.Hour}, RetryAfter: time.Minute}
	fb.mu.Unlock()
	adm("POST", "/v1/messages", otpBody) // 429
	fb.mu.Lock()
	fb.submitErr = store.ErrOptedOut
	fb.mu.Unlock()
	adm("POST", "/v1/messages", otpBody) // 403
	fb.mu.Lock()
	fb.submitErr = nil
	fb.mu.Unlock()
	adm("GET", "/v1/messages?limit=5", "")
	adm("GET", "/v1/messages?bogus=1", "")
	adm("GET", "/v1/messages/"+m.ID, "")
	adm("GET", "/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", "")
	shop("GET", "/v1/messages/"+m.ID, "") // another client's: 404
	adm("POST", "/v1/messages/"+m.ID+"/cancel", "")
	adm("POST", "/v1/messages/"+m.ID+"/cancel", "") // 409
	adm("GET", "/v1/dlq", "")
	adm("POST", "/v1/dlq/"+m.ID+"/requeue", "")
	adm("GET", "/v1/health", "")
	shop("GET", "/v1/health", "")
	adm("GET", "/v1/stats", "")
	// Lists.
	adm("POST", "/v1/optouts", `{"recipient":"+33612345678"}`)
	adm("GET", "/v1/optouts", "")
	adm("DELETE", "/v1/optouts?recipient=%2B33612345678", "")
	shop("DELETE", "/v1/optouts?recipient=%2B33612345678", "") // 403 admin_only
	adm("POST", "/v1/consents", `{"recipient":"+33612345678","purpose":"otp"}`)
	adm("GET", "/v1/consents?recipient=%2B33612345678", "")
	adm("DELETE", "/v1/consents?recipient=%2B33612345678&purpose=otp", "")
	adm("GET", "/v1/journal", "")
	shop("GET", "/v1/journal", "") // 403
	// Events and webhooks.
	if err := st.AppendDevice(ctx, "sim", "down", "no signal"); err != nil {
		t.Fatal(err)
	}
	recorded = append(recorded, recordStream(t, admin, "http://smsgw", "0"))
	adm("GET", "/v1/events", "", "Last-Event-ID", "x")
	adm("GET", "/v1/webhooks/deliveries?state=dead", "")
	adm("GET", "/v1/webhooks/deliveries?state=bogus", "")
	shop("GET", "/v1/webhooks/deliveries?client=ops", "") // 403
	adm("GET", "/openapi.json", "")
	do(lan, lanBase, "GET", "/openapi.json", "", "")
	// Authentication and methods.
	do(lan, lanBase, "GET", "/v1/health", "", "")           // 401 missing
	do(lan, lanBase, "GET", "/v1/health", "smsgw_nope", "") // 401 invalid
	adm("PUT", "/v1/health", "")                            // 405

	seen := map[string]bool{}
	for _, ex := range recorded {
		reqURL := "http://smsgw" + ex.path
		if ex.query != "" {
			reqURL += "?" + ex.query
		}
		req, _ := http.NewRequest(ex.method, reqURL, strings.NewReader(ex.reqBody))
		req.Header = ex.reqHeader
		route, params, err := router.FindRoute(req)
		if err != nil {
			if ex.status == http.StatusMethodNotAllowed {
				// Not an operation; check the answer is a problem.
				readProblem(t, ex.status, ex.header, ex.body, http.StatusMethodNotAllowed, codeMethodNotAllowed)
				continue
			}
			t.Errorf("%s %s: no route in the spec: %v", ex.method, ex.path, err)
			continue
		}
		seen[route.Method+" "+route.Path] = true
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 ex.status,
			Header:                 ex.header,
			Body:                   io.NopCloser(bytes.NewReader(ex.body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			t.Errorf("%s %s?%s → %d does not match the spec: %v\nbody: %s", ex.method, ex.path, ex.query, ex.status, err, ex.body)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				t.Errorf("the test never exercised %s %s", method, path)
			}
		}
	}
}

// recordStream reads the event stream up to its first event, then
// disconnects.
func recordStream(t *testing.T, c *http.Client, base, lastID string) exchange {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // hang guard
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	sc := bufio.NewScanner(resp.Body)
	sawEvent := false
	for sc.Scan() {
		body.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "data: ") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "data: ")), &ev); err != nil {
				t.Errorf("event data is not JSON: %v", err)
			}
			sawEvent = true
		}
		if sc.Text() == "" && sawEvent {
			break
		}
	}
	if !sawEvent {
		t.Fatal("the stream carried no event")
	}
	return exchange{method: "GET", path: "/v1/events", reqHeader: req.Header, status: resp.StatusCode, header: resp.Header, body: body.Bytes()}
}
