package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsgw/config"
	"smsgw/daemon/access"
	"smsgw/daemon/client"
	"smsgw/daemon/policy"
)

// Tokens of the LAN clients of accessHarness.
var (
	shopToken, shopDigest     = mustToken()
	clinicToken, clinicDigest = mustToken()
)

func mustToken() (string, string) {
	tok, digest, err := access.NewToken()
	if err != nil {
		panic(err)
	}
	return tok, digest
}

// accessPolicy lets shop send otp only and clinic both purposes.
func accessPolicy(clients []config.Client) *policy.Policy {
	return policy.New(&config.Config{Clients: clients, Policy: testPolicyConfig(), Queue: config.Queue{MaxAttempts: 5}})
}

func testPolicyConfig() config.Policy {
	return config.Policy{
		Purposes: map[string]config.Purpose{
			"otp":                  {TTL: config.Duration{Duration: 5 * time.Minute}, Templates: []string{"otp_code"}},
			"appointment_reminder": {TTL: config.Duration{Duration: 12 * time.Hour}, Templates: []string{"reminder"}},
		},
		Templates: map[string]config.Template{
			"otp_code": {Text: "Your code is {{.code}}.", Params: map[string]config.Param{"code": {Secret: true}}},
			"reminder": {Text: "Hello {{.name}}, see you on {{.when}}.", Params: map[string]config.Param{"name": {}, "when": {}}},
		},
	}
}

// serveAccess starts a server with clients on a Unix socket in a temporary
// directory and, when lan is set, on 127.0.0.1; it returns the socket path
// and the LAN base URL.
func serveAccess(t *testing.T, clients []config.Client, apiCfg config.API, lan bool) (*harness, string, string) {
	t.Helper()
	h := &harness{fb: newFakeBackend(testNow), log: &syncBuffer{}}
	apiCfg.MaxBodyBytes = 4096
	h.srv = New(Options{
		Backend: h.fb, Policy: accessPolicy(clients), Config: apiCfg, Clients: clients,
		Log: debugLogger(h.log), Now: func() time.Time { return testNow },
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	n := 0
	dir, err := os.MkdirTemp("", "smsgw-api")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	uln, err := ListenUnix(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n++
	go func() { done <- h.srv.Serve(ctx, uln) }()
	base := ""
	if lan {
		allow, err := access.ParseAllowList(apiCfg.LAN.Allow)
		if err != nil {
			t.Fatal(err)
		}
		lln, err := ListenLAN(ctx, "127.0.0.1:0", LANOptions{Allow: allow, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		base = "http://" + lln.Addr().String()
		n++
		go func() { done <- h.srv.ServeLAN(ctx, lln, nil) }()
	}
	t.Cleanup(func() {
		cancel()
		for range n {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
		os.RemoveAll(dir)
	})
	return h, sock, base
}

// call makes one request and returns the status and body.
func call(t *testing.T, c *http.Client, method, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func otherUID() int {
	// A uid that is not ours: clients configured with it leave us unknown.
	return os.Getuid() + 4242
}

func TestSocketPeerIdentity(t *testing.T) {
	me := os.Getuid()
	cases := []struct {
		name       string
		clients    []config.Client
		apiCfg     config.API
		wantStatus int
		wantCode   string
		wantClient string
	}{
		{name: "no clients: local admin", wantStatus: http.StatusAccepted, wantClient: "local"},
		{
			name:       "uid mapped",
			clients:    []config.Client{{Name: "shop", UnixUIDs: []int{me}, Purposes: []string{"otp"}}},
			wantStatus: http.StatusAccepted, wantClient: "shop",
		},
		{
			name:       "gid mapped",
			clients:    []config.Client{{Name: "shop", UnixUIDs: []int{otherUID()}, UnixGIDs: []int{os.Getgid()}, Purposes: []string{"otp"}}},
			wantStatus: http.StatusAccepted, wantClient: "shop",
		},
		{
			name:       "socket_client opens the socket",
			clients:    []config.Client{{Name: "shop", UnixUIDs: []int{otherUID()}}, {Name: "any", Purposes: []string{"otp"}}},
			apiCfg:     config.API{SocketClient: "any"},
			wantStatus: http.StatusAccepted, wantClient: "any",
		},
		{
			name:       "unknown uid refused",
			clients:    []config.Client{{Name: "shop", UnixUIDs: []int{otherUID()}, UnixGIDs: []int{os.Getgid() + 4242}}},
			wantStatus: http.StatusForbidden, wantCode: codePeerUnknown,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, sock, _ := serveAccess(t, c.clients, c.apiCfg, false)
			status, header, body := call(t, unixClient(sock), http.MethodPost, "http://smsgw/v1/messages", "", otpBody)
			if c.wantCode != "" {
				p := readProblem(t, status, header, body, c.wantStatus, c.wantCode)
				if !strings.Contains(p.Detail, "uid "+strconv.Itoa(me)) || !strings.Contains(p.Detail, "unix_uids") {
					t.Errorf("the refusal does not say which uid to add where: %q", p.Detail)
				}
				if h.fb.submitCount() != 0 {
					t.Error("a refused peer submitted a message")
				}
				return
			}
			if status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, c.wantStatus, body)
			}
			if m := decodeMessage(t, body); m.Client != c.wantClient {
				t.Errorf("client = %q, want %q", m.Client, c.wantClient)
			}
		})
	}
}

// httpRequest is a GET /v1/health as if from a LAN peer at remote.
func httpRequest(t *testing.T, remote, token string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r.WithContext(context.WithValue(r.Context(), connKey{}, connInfo{lan: true, remote: remote}))
}

func recordLAN(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

func TestLANRefusals(t *testing.T) {
	clients := []config.Client{
		{Name: "shop", TokenSHA256: shopDigest, Purposes: []string{"otp"}},
		{Name: "clinic", TokenSHA256: clinicDigest, Purposes: []string{"otp", "appointment_reminder"}},
	}
	_, _, base := serveAccess(t, clients, config.API{LAN: config.LAN{Allow: []string{"127.0.0.0/8"}}}, true)
	c := &http.Client{}
	reminder := `{"to":"+33612345678","purpose":"appointment_reminder","params":{"name":"Ann","when":"Tue"}}`
	cases := []struct {
		name, token, body string
		wantStatus        int
		wantCode          string
	}{
		{"missing token", "", otpBody, http.StatusUnauthorized, codeTokenMissing},
		{"wrong token", "smsgw_wrong", otpBody, http.StatusUnauthorized, codeTokenInvalid},
		{"purpose not allowed for the client", shopToken, reminder, http.StatusUnprocessableEntity, policy.CodePurposeNotAllowed},
		{"allowed purpose", shopToken, otpBody, http.StatusAccepted, ""},
		{"other client, its purpose", clinicToken, reminder, http.StatusAccepted, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := call(t, c, http.MethodPost, base+"/v1/messages", tc.token, tc.body)
			if tc.wantCode == "" {
				if status != tc.wantStatus {
					t.Fatalf("status %d: %s", status, body)
				}
				return
			}
			readProblem(t, status, header, body, tc.wantStatus, tc.wantCode)
			if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", header.Get("WWW-Authenticate"))
			}
		})
	}
	// Malformed Authorization headers are refused too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/health", nil)
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	readProblem(t, resp.StatusCode, resp.Header, b, http.StatusUnauthorized, codeTokenInvalid)
}

func TestLANScopesMessagesToTheirClient(t *testing.T) {
	clients := []config.Client{
		{Name: "shop", TokenSHA256: shopDigest, Purposes: []string{"otp"}},
		{Name: "clinic", TokenSHA256: clinicDigest, Purposes: []string{"otp"}},
		{Name: "ops", UnixUIDs: []int{os.Getuid()}, Admin: true},
	}
	_, sock, base := serveAccess(t, clients, config.API{}, true)
	c := &http.Client{}
	status, _, body := call(t, c, http.MethodPost, base+"/v1/messages", shopToken, otpBody)
	if status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", status, body)
	}
	shopMsg := decodeMessage(t, body)
	if shopMsg.Client != "shop" {
		t.Fatalf("client %q", shopMsg.Client)
	}

	// clinic neither sees nor cancels shop's message.
	status, header, body := call(t, c, http.MethodGet, base+"/v1/messages/"+shopMsg.ID, clinicToken, "")
	readProblem(t, status, header, body, http.StatusNotFound, codeMessageNotFound)
	status, header, body = call(t, c, http.MethodPost, base+"/v1/messages/"+shopMsg.ID+"/cancel", clinicToken, "")
	readProblem(t, status, header, body, http.StatusNotFound, codeMessageNotFound)
	listCount := func(hc *http.Client, url, token string) int {
		status, _, body := call(t, hc, http.MethodGet, url, token, "")
		if status != http.StatusOK {
			t.Fatalf("list: %d %s", status, body)
		}
		var l client.MessageList
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		return len(l.Messages)
	}
	if n := listCount(c, base+"/v1/messages", clinicToken); n != 0 {
		t.Errorf("clinic lists %d messages, want 0", n)
	}
	if n := listCount(c, base+"/v1/messages", shopToken); n != 1 {
		t.Errorf("shop lists %d messages, want 1", n)
	}
	// The admin on the socket sees everything.
	if n := listCount(unixClient(sock), "http://smsgw/v1/messages", ""); n != 1 {
		t.Errorf("admin lists %d messages, want 1", n)
	}
	status, _, body = call(t, c, http.MethodGet, base+"/v1/messages/"+shopMsg.ID, shopToken, "")
	if status != http.StatusOK {
		t.Errorf("shop reading its message: %d %s", status, body)
	}
	// The journal is for admins.
	status, header, body = call(t, c, http.MethodGet, base+"/v1/journal", shopToken, "")
	readProblem(t, status, header, body, http.StatusForbidden, codeAdminOnly)
}

func TestLANPeerOutsideAllowList(t *testing.T) {
	// The listener closes the connection before any byte: no HTTP answer.
	clients := []config.Client{{Name: "shop", TokenSHA256: shopDigest, Purposes: []string{"otp"}}}
	_, _, base := serveAccess(t, clients, config.API{LAN: config.LAN{Allow: []string{"10.0.0.0/8"}}}, true)
	c := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/health", nil)
	req.Header.Set("Authorization", "Bearer "+shopToken)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a peer outside the allow list got an answer: %d", resp.StatusCode)
	}

	// The handler's own check, for a connection that got through.
	h := newHarness(t)
	h.srv = New(Options{Backend: h.fb, Policy: accessPolicy(clients), Clients: clients,
		Config: config.API{MaxBodyBytes: 4096, LAN: config.LAN{Allow: []string{"10.0.0.0/8"}}}})
	r := httpRequest(t, "192.168.5.5:4000", shopToken)
	w := recordLAN(h.srv, r)
	readProblem(t, w.Code, w.Header(), w.Body.Bytes(), http.StatusForbidden, codePeerNotAllowed)
	w = recordLAN(h.srv, httpRequest(t, "10.1.2.3:4000", shopToken))
	if w.Code != http.StatusOK {
		t.Errorf("a peer inside the allow list: %d %s", w.Code, w.Body)
	}
}

func TestListenLANRefusesPublicAddress(t *testing.T) {
	withPublic := func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("203.0.113.7")}, nil
	}
	for _, addr := range []string{"203.0.113.7:8787", "8.8.8.8:0", "0.0.0.0:0", "[::]:0", "localhost:8787"} {
		ln, err := ListenLAN(t.Context(), addr, LANOptions{InterfaceAddrs: withPublic})
		if err == nil {
			ln.Close()
			t.Errorf("ListenLAN(%s) bound", addr)
			continue
		}
		if !strings.Contains(err.Error(), "api.lan.listen") {
			t.Errorf("ListenLAN(%s): %v does not name the key", addr, err)
		}
	}
	if _, err := ListenLAN(t.Context(), "203.0.113.7:8787", LANOptions{InterfaceAddrs: withPublic}); !errors.Is(err, access.ErrPublicAddress) {
		t.Errorf("public address error %v is not access.ErrPublicAddress", err)
	}
}

// fakeListener hands out connections from chosen addresses.
type fakeListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *fakeListener) Close() error   { close(l.closed); return nil }
func (l *fakeListener) Addr() net.Addr { return fakeAddr("127.0.0.1:8787") }

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

type fakeConn struct {
	net.Conn
	remote fakeAddr
	closed chan struct{}
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { close(c.closed); return nil }

func TestWrapLANFiltersAndCaps(t *testing.T) {
	allow, err := access.ParseAllowList([]string{"192.168.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	fl := &fakeListener{conns: make(chan net.Conn, 8), closed: make(chan struct{})}
	ln := WrapLAN(fl, LANOptions{Allow: allow, MaxConns: 1})
	mk := func(addr string) *fakeConn {
		return &fakeConn{remote: fakeAddr(addr), closed: make(chan struct{})}
	}
	outside, public, inside, second := mk("192.168.2.9:5000"), mk("8.8.8.8:5000"), mk("192.168.1.7:5000"), mk("192.168.1.8:5000")
	fl.conns <- outside
	fl.conns <- public
	fl.conns <- inside
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != "192.168.1.7:5000" {
		t.Fatalf("accepted %s", c.RemoteAddr())
	}
	for _, refused := range []*fakeConn{outside, public} {
		select {
		case <-refused.closed:
		default:
			t.Errorf("connection from %s was not closed", refused.remote)
		}
	}
	// The cap is 1: the next Accept waits until the first connection closes.
	fl.conns <- second
	got := make(chan net.Conn, 1)
	go func() {
		c2, err := ln.Accept()
		if err == nil {
			got <- c2
		}
	}()
	select {
	case c2 := <-got:
		t.Fatalf("accepted %s beyond the cap", c2.RemoteAddr())
	case <-time.After(50 * time.Millisecond):
	}
	c.Close()
	select {
	case c2 := <-got:
		if c2.RemoteAddr().String() != "192.168.1.8:5000" {
			t.Errorf("accepted %s", c2.RemoteAddr())
		}
		c2.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waits after a slot was freed")
	}
	ln.Close()
}
