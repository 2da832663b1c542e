package smsservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
)

// Reason codes of the errors this package returns.
const (
	CodeUnreachable  = "unreachable"
	CodeTimeout      = "timeout"
	CodeConnLost     = "connection_lost"
	CodeCancelled    = "cancelled"
	CodeClosed       = "closed"
	CodeExpired      = "expired"
	CodeUnauthorized = "unauthorized"
	CodeBusy         = "busy"
	CodeUnavailable  = "unavailable"
	CodeRejected     = "rejected"
	CodeNoEndpoint   = "no_endpoint"
	CodeAppError     = "app_error"
	CodeBadReply     = "bad_reply"
	CodeNoMemory     = "no_memory"
)

// maxReply bounds what is read of one reply.
const maxReply = 1 << 20

// client is the HTTP side shared by both dialects: one connection pool,
// authentication, TLS checks, and the split between failures before and
// after the request was written.
type client struct {
	base     string
	hc       *http.Client
	tr       *http.Transport
	timeout  time.Duration
	username string
	password string
	token    string
}

func newClient(o Options) *client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     tlsConfig(o),
	}
	if o.DialContext != nil {
		tr.DialContext = o.DialContext
	}
	return &client{
		base: o.BaseURL, hc: &http.Client{Transport: tr}, tr: tr, timeout: o.RequestTimeout,
		username: o.Username, password: o.Password, token: o.Token,
	}
}

// tlsConfig checks the app's certificate against the configured CAs
// (or the system's) and, when a pin is set, accepts only the pinned
// certificate. A pin without CAs skips the chain check: phone apps
// usually present a self-signed certificate.
func tlsConfig(o Options) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs}
	if len(o.PinSHA256) == 0 {
		return c
	}
	pin := o.PinSHA256
	c.InsecureSkipVerify = o.RootCAs == nil
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the phone app presented no certificate")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
			return fmt.Errorf("the phone app's certificate (sha256 %x) does not match tls.pin_sha256", sum)
		}
		return nil
	}
	return c
}

// reply is an HTTP answer, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the reply. Any HTTP status is a reply;
// the error, when no reply came, is classified: transient when the
// request was not written (refused, DNS, cancelled before), uncertain
// when it was (timeout or dropped connection afterwards).
func (c *client) do(ctx context.Context, method, path string, body []byte, header map[string]string) (*reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, drivers.Permanent(CodeRejected, "cannot build the request", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.password != "":
		req.SetBasicAuth(c.username, c.password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxReply))
		if err == nil {
			return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
		}
	}
	return nil, transportError(ctx, wrote.Load(), c.base, err)
}

// transportError classifies a failure to get a reply.
func transportError(ctx context.Context, wrote bool, base string, err error) *drivers.Error {
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		timedOut = true
	}
	if !wrote {
		switch {
		case errors.Is(err, context.Canceled):
			return drivers.Transient(CodeCancelled, "cancelled before the request reached the phone app", err)
		case timedOut:
			return drivers.Transient(CodeTimeout, "timed out before the request reached the phone app", err)
		}
		return drivers.Transient(CodeUnreachable, "cannot reach the phone app at "+base, err)
	}
	if timedOut {
		return drivers.Uncertain(CodeTimeout, "the phone app took the request but did not answer in time", err)
	}
	if errors.Is(err, context.Canceled) {
		return drivers.Uncertain(CodeCancelled, "cancelled after the request reached the phone app", err)
	}
	return drivers.Uncertain(CodeConnLost, "the connection dropped after the request reached the phone app", err)
}

// statusError classifies an HTTP status that is not a success; now is the
// driver's clock, for a Retry-After given as a date.
func statusError(r *reply, path string, now time.Time) *drivers.Error {
	msg := appMessage(r.body)
	detail := fmt.Sprintf("HTTP %d", r.status)
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return drivers.Permanent(CodeUnauthorized, fmt.Sprintf(
			"the phone app refused our credentials (HTTP %d): check username and password_file, or token_file, against the app's settings", r.status), nil)
	case r.status == http.StatusTooManyRequests:
		e := drivers.Transient(CodeBusy, "the phone app asks to slow down ("+detail+")", nil)
		e.RetryAfter = retryAfter(r.header, now)
		return e
	case r.status == http.StatusServiceUnavailable:
		e := drivers.Transient(CodeUnavailable, "the phone app is not ready ("+detail+")", nil)
		e.RetryAfter = retryAfter(r.header, now)
		return e
	case r.status == http.StatusNotFound:
		return drivers.Transient(CodeNoEndpoint, "the phone app has no "+path+" ("+detail+"): check url and dialect", nil)
	case r.status >= 400 && r.status < 500:
		return drivers.Permanent(CodeRejected, "the phone app refused the message ("+detail+")", nil)
	case r.status >= 500:
		return drivers.Uncertain(CodeAppError, "the phone app failed while taking the message ("+detail+")", nil)
	}
	return drivers.Uncertain(CodeBadReply, "unexpected answer from the phone app ("+detail+")", nil)
}

// maxRetryAfter caps the app's Retry-After: a longer wait is a bug or a
// misconfiguration, and a huge value must not overflow.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header in seconds or as an HTTP date,
// capped at maxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		if s >= uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(s) * time.Second
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return maxRetryAfter
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// digits matches runs that may be phone numbers in an app's message.
var digits = regexp.MustCompile(`\+?[0-9][0-9 ]{5,}[0-9]`)

// appMessage extracts the app's error text ({"message": "..."} or plain
// text), shortened and with anything like a phone number masked.
func appMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	s := ""
	if json.Unmarshal(body, &m) == nil {
		s = m.Message
		if s == "" {
			s = m.Error
		}
	} else if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		s = string(body)
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return digits.ReplaceAllStringFunc(s, logging.MaskPhone)
}
