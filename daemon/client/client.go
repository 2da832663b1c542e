package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Message states.
const (
	StateQueued    = "queued"
	StateSending   = "sending"
	StateSent      = "sent"
	StateDelivered = "delivered"
	StateFailed    = "failed"
	StateExpired   = "expired"
	StateCancelled = "cancelled"
	StateUnknown   = "unknown"
)

// IsTerminal reports whether a message in state will not change any more on
// its own: delivered, failed, expired or cancelled. A failed message can
// still be requeued by an operator.
func IsTerminal(state string) bool {
	switch state {
	case StateDelivered, StateFailed, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Client talks to one smsgw daemon. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	baseURL string
	token   string
	// socket is the Unix socket path, empty for a LAN client.
	socket string
}

// NewUnix returns a client for the daemon listening on the Unix socket at
// socketPath.
func NewUnix(socketPath string) *Client {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{
		http:    &http.Client{Transport: tr},
		baseURL: "http://smsgw",
		socket:  socketPath,
	}
}

// NewHTTP returns a client for a daemon's LAN listener at baseURL, such as
// "http://192.168.1.10:8787". A non-empty token is sent as a bearer token.
func NewHTTP(baseURL, token string) *Client {
	return &Client{
		http:    &http.Client{},
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
	}
}

// NotRunningError says that nothing answers on the daemon's Unix socket.
type NotRunningError struct {
	Socket string
	// Err is the dial error.
	Err error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("smsgw is not running (no socket at %s); start it with `smsgw run`", e.Socket)
}

// Unwrap returns the dial error.
func (e *NotRunningError) Unwrap() error { return e.Err }

// ListOptions filters and pages a message listing. Zero fields do not filter.
type ListOptions struct {
	// States keeps messages in any of these states.
	States  []string
	Purpose string
	To      string
	// Since and Until bound the creation time.
	Since, Until time.Time
	// Cursor continues a listing from a previous page's NextCursor.
	Cursor string
	Limit  int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if len(o.States) > 0 {
		q.Set("status", strings.Join(o.States, ","))
	}
	if o.Purpose != "" {
		q.Set("purpose", o.Purpose)
	}
	if o.To != "" {
		q.Set("to", o.To)
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	if !o.Until.IsZero() {
		q.Set("until", o.Until.UTC().Format(time.RFC3339Nano))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// Submit asks the daemon to send a message. A non-empty idempotencyKey makes
// retries safe: replayed is true when the daemon had already accepted the
// same request under that key and answers with the original message.
func (c *Client) Submit(ctx context.Context, req SubmitRequest, idempotencyKey string) (msg *Message, replayed bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, fmt.Errorf("encoding message: %w", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
	}
	msg = new(Message)
	resp, err := c.do(ctx, http.MethodPost, "/v1/messages", nil, h, body, msg)
	if err != nil {
		return nil, false, err
	}
	return msg, strings.EqualFold(resp.Header.Get("Idempotent-Replayed"), "true"), nil
}

// Message returns one message with its events.
func (c *Client) Message(ctx context.Context, id string) (*Message, error) {
	var m Message
	if _, err := c.do(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(id), nil, nil, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Messages returns one page of messages matching opts.
func (c *Client) Messages(ctx context.Context, opts ListOptions) (*MessageList, error) {
	return c.list(ctx, "/v1/messages", opts)
}

// Cancel cancels a message that is still queued.
func (c *Client) Cancel(ctx context.Context, id string) (*Message, error) {
	return c.post(ctx, "/v1/messages/"+url.PathEscape(id)+"/cancel")
}

// DeadLetters returns one page of the dead-letter queue.
func (c *Client) DeadLetters(ctx context.Context, opts ListOptions) (*MessageList, error) {
	return c.list(ctx, "/v1/dlq", opts)
}

// Requeue puts a dead-lettered message back in the queue.
func (c *Client) Requeue(ctx context.Context, id string) (*Message, error) {
	return c.post(ctx, "/v1/dlq/"+url.PathEscape(id)+"/requeue")
}

// Stats returns a summary of the queue.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s Stats
	if _, err := c.do(ctx, http.MethodGet, "/v1/stats", nil, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Health returns the daemon's and its devices' state.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if _, err := c.do(ctx, http.MethodGet, "/v1/health", nil, nil, nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Wait polls the message until it reaches one of states or any terminal
// state, and returns it. When ctx ends first, Wait returns the last message
// it saw (nil if none) with an error wrapping ctx.Err().
func (c *Client) Wait(ctx context.Context, id string, states ...string) (*Message, error) {
	const (
		first = 50 * time.Millisecond
		limit = 500 * time.Millisecond
	)
	delay := first
	var last *Message
	for {
		m, err := c.Message(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return last, waitError(id, last, ctx.Err())
		case err != nil:
			return last, err
		}
		last = m
		if IsTerminal(m.State) || containsState(states, m.State) {
			return m, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, waitError(id, last, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, limit)
	}
}

func waitError(id string, last *Message, err error) error {
	if last == nil {
		return fmt.Errorf("waiting for message %s: %w", id, err)
	}
	return fmt.Errorf("waiting for message %s (still %s): %w", id, last.State, err)
}

func containsState(states []string, s string) bool {
	for _, st := range states {
		if st == s {
			return true
		}
	}
	return false
}

func (c *Client) list(ctx context.Context, path string, opts ListOptions) (*MessageList, error) {
	var l MessageList
	if _, err := c.do(ctx, http.MethodGet, path, opts.query(), nil, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

func (c *Client) post(ctx context.Context, path string) (*Message, error) {
	var m Message
	if _, err := c.do(ctx, http.MethodPost, path, nil, nil, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// do sends one request and decodes a 2xx JSON answer into out. Other
// statuses become a *Problem.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, h http.Header, body []byte, out any) (*http.Response, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if c.socket != "" && ctx.Err() == nil && isNotListening(err) {
			return nil, &NotRunningError{Socket: c.socket, Err: err}
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, readProblem(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return resp, nil
}

// isNotListening reports whether a dial failed because no one listens:
// the socket file is missing or nothing accepts on it.
func isNotListening(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)
}

// maxProblemBody caps how much of an error body is read.
const maxProblemBody = 64 << 10

// readProblem turns a non-2xx answer into a *Problem, decoding
// application/problem+json or synthesising one with code "http_<status>".
func readProblem(resp *http.Response) *Problem {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	p := new(Problem)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/problem+json" || json.Unmarshal(data, p) != nil {
		p = &Problem{Detail: firstLine(string(data))}
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	if p.Code == "" {
		p.Code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	return p
}

// firstLine returns the first line of s, trimmed and cut to a readable size.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
