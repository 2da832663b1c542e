// Package at talks to a GSM modem in AT commands over any byte stream: a
// serial port, a pseudo-terminal or an in-memory pipe.
//
// One goroutine owns the port. It writes one command at a time and reads the
// answer; unsolicited result codes (URCs such as +CMTI, +CDS or vendor ones
// like ^RSSI) are taken out of the stream before responses are matched, even
// between AT+CMGS and its result, and handed out on a channel. The SMS
// prompt "> " is a token of its own. Every command has its own timeout, and
// a command echoed by a modem with echo on is recognised and dropped.
package at

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Control characters of the SMS prompt.
const (
	ctrlZ = "\x1a"
	esc   = "\x1b"
)

var (
	// ErrTimeout is returned when a command got no final result in time.
	ErrTimeout = errors.New("at: no answer from the modem")
	// ErrClosed is returned once the port failed or Close was called.
	ErrClosed = errors.New("at: connection closed")
)

// Kind is the kind of a final error result.
type Kind string

// Kinds of final error results.
const (
	KindError Kind = "ERROR"
	KindCME   Kind = "CME"
	KindCMS   Kind = "CMS"
)

// Error is a final error result: ERROR, +CME ERROR or +CMS ERROR. Code is
// -1 when the modem gave text instead of a number (AT+CMEE=2) or no code.
type Error struct {
	Kind Kind
	Code int
	Text string
}

func (e *Error) Error() string {
	switch {
	case e.Kind == KindError:
		return "at: ERROR"
	case e.Code >= 0:
		return fmt.Sprintf("at: +%s ERROR: %d", e.Kind, e.Code)
	default:
		return fmt.Sprintf("at: +%s ERROR: %s", e.Kind, e.Text)
	}
}

// URC is an unsolicited result code. PDU is the line that follows +CMT,
// +CDS and +CBM, which carry a PDU on a second line.
type URC struct {
	Line string
	PDU  string
}

// DefaultURCBuffer is the capacity of the URC channel.
const DefaultURCBuffer = 1024

// Conn is a connection to one modem. Its methods may be called from any
// goroutine; commands run one at a time in the order they arrive.
type Conn struct {
	port io.ReadWriteCloser
	log  *slog.Logger

	reqs  chan *request
	lines chan string
	urcs  chan URC
	quit  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup

	closeOnce sync.Once
	mu        sync.Mutex
	err       error

	// Owned by the loop goroutine.
	pduFor *URC
	// quietUntil: after an ESC, answers to it are dropped until then.
	quietUntil time.Time
}

type request struct {
	ctx     context.Context
	cmd     string
	timeout time.Duration
	// For SMS commands: the PDU to write at the prompt and how long to wait
	// for the result once it is written.
	pdu           string
	resultTimeout time.Duration
	reply         chan response
	raw           bool // write cmd as is (escape sequences)
	// pduWriting is set by the loop just before it writes the PDU: from
	// then on the message may leave even if no answer comes.
	pduWriting atomic.Bool
}

type response struct {
	info      []string
	submitted bool
	err       error
}

// New starts talking to a modem on port. log may be nil.
func New(port io.ReadWriteCloser, log *slog.Logger) *Conn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		port:  port,
		log:   log,
		reqs:  make(chan *request),
		lines: make(chan string, 64),
		urcs:  make(chan URC, DefaultURCBuffer),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	c.wg.Add(2)
	go c.read()
	go c.loop()
	return c
}

// URCs returns the unsolicited result codes in the order they arrived. The
// channel is closed when the connection ends.
func (c *Conn) URCs() <-chan URC { return c.urcs }

// Done is closed when the connection has ended, because the port failed or
// Close was called.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// Close closes the port and waits for the connection's goroutines.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.setErr(ErrClosed)
		close(c.quit)
		err = c.port.Close()
		c.wg.Wait()
	})
	return err
}

// Command sends "AT"+cmd (cmd is e.g. "+CSQ" or "E0") and returns its
// information lines once the modem answers OK. A final error result is
// returned as an *Error.
func (c *Conn) Command(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	r := c.do(&request{ctx: ctx, cmd: "AT" + cmd, timeout: timeout})
	return r.info, r.err
}

// SendPDU sends "AT"+cmd (such as "+CMGS=23"), waits up to promptTimeout for
// the prompt, writes pdu and Ctrl-Z, and waits up to resultTimeout for the
// final result. submitted reports whether the PDU was written: after that,
// an error does not prove that the message did not leave. A prompt that
// does not come is aborted with ESC.
func (c *Conn) SendPDU(ctx context.Context, cmd, pdu string, promptTimeout, resultTimeout time.Duration) (info []string, submitted bool, err error) {
	r := c.do(&request{ctx: ctx, cmd: "AT" + cmd, timeout: promptTimeout, pdu: pdu, resultTimeout: resultTimeout})
	return r.info, r.submitted, r.err
}

// Escape writes ESC, aborting a prompt the modem may still be waiting at,
// and drops whatever the modem answers within guard.
func (c *Conn) Escape(ctx context.Context, guard time.Duration) error {
	r := c.do(&request{ctx: ctx, cmd: esc + "\r", timeout: guard, raw: true})
	return r.err
}

func (c *Conn) do(req *request) response {
	if err := req.ctx.Err(); err != nil {
		return response{err: err}
	}
	req.reply = make(chan response, 1)
	select {
	case c.reqs <- req:
	case <-c.done:
		return response{err: c.closedErr()}
	case <-req.ctx.Done():
		return response{err: req.ctx.Err()}
	}
	// The loop has the request. It answers on its own when ctx ends or its
	// timers fire, unless it is stuck in a write to the port (a wedged USB
	// serial device): then the connection is reset after a grace period,
	// so that neither the caller nor the loop waits forever.
	watchdog := time.NewTimer(req.timeout + req.resultTimeout + EscapeGuard + 4*WedgeGrace)
	defer watchdog.Stop()
	var why error
	select {
	case r := <-req.reply:
		return r
	case <-watchdog.C:
		why = fmt.Errorf("%w to %s: the port did not take a write", ErrTimeout, commandName(req.cmd))
	case <-req.ctx.Done():
		grace := time.NewTimer(EscapeGuard + WedgeGrace)
		defer grace.Stop()
		select {
		case r := <-req.reply:
			return r
		case <-grace.C:
			why = fmt.Errorf("%w (the port did not take a write)", req.ctx.Err())
		}
	}
	// The loop is stuck: reset the connection. The PDU may be on its way
	// if the loop had started writing it.
	c.log.Warn("modem: port does not take writes, closing the connection", "cmd", commandName(req.cmd))
	c.setErr(fmt.Errorf("port wedged during %s", commandName(req.cmd)))
	go func() { _ = c.Close() }()
	submitted := req.pduWriting.Load()
	select {
	case r := <-req.reply:
		if r.err == nil {
			return r // the loop answered after all
		}
		// Its error is most likely the reset itself; the reason is ours.
		submitted = submitted || r.submitted
	default:
	}
	return response{submitted: submitted, err: why}
}

// WedgeGrace is how long past its deadline a request may stay with the
// loop before the connection is taken for wedged and closed.
const WedgeGrace = 250 * time.Millisecond

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}

// read turns the byte stream into tokens.
func (c *Conn) read() {
	defer c.wg.Done()
	defer close(c.lines)
	sc := bufio.NewScanner(c.port)
	sc.Buffer(make([]byte, 4096), 64*1024)
	sc.Split(SplitTokens)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		select {
		case c.lines <- line:
		case <-c.quit:
			return
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	c.setErr(err)
}

func (c *Conn) loop() {
	defer c.wg.Done()
	defer close(c.urcs)
	defer close(c.done)
	for {
		select {
		case req := <-c.reqs:
			if !c.run(req) {
				return
			}
		case line, ok := <-c.lines:
			if !ok {
				return
			}
			if !c.urc(line, "") {
				c.log.Debug("modem: unexpected line", "line", redact(line))
			}
		case <-c.quit:
			return
		}
	}
}

// redact shortens long lines (PDUs) so that logs carry no message content.
func redact(line string) string {
	if len(line) > 24 {
		return line[:12] + "…"
	}
	return line
}

// urc handles line if it is an unsolicited result code (or the PDU line of
// one) and reports whether it did. expect is the response prefix of the
// running command, which is never taken for a URC.
func (c *Conn) urc(line, expect string) bool {
	if c.pduFor != nil {
		u := *c.pduFor
		c.pduFor = nil
		if isHex(line) {
			u.PDU = line
			c.emit(u)
			return true
		}
		c.emit(u) // PDU missing: hand out what came
	}
	if expect != "" && strings.HasPrefix(line, expect) {
		return false
	}
	withPDU, ok := IsURC(line)
	if !ok {
		return false
	}
	if withPDU {
		c.pduFor = &URC{Line: line}
		return true
	}
	c.emit(URC{Line: line})
	return true
}

func (c *Conn) emit(u URC) {
	select {
	case c.urcs <- u:
	default:
		c.log.Warn("modem: unsolicited result dropped, buffer full", "line", redact(u.Line))
	}
}

// EscapeGuard is how long after aborting a prompt with ESC the modem's
// answer to the ESC is waited for and dropped, so that it is not taken for
// the answer to the next command.
const EscapeGuard = 250 * time.Millisecond

// settle drops lines until the guard after an ESC has passed; it returns
// false when the connection ended.
func (c *Conn) settle() bool {
	wait := time.Until(c.quietUntil)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return false
			}
			c.urc(line, "")
		case <-t.C:
			return true
		case <-c.quit:
			return false
		}
	}
}

// run executes one request; it returns false when the connection ended.
func (c *Conn) run(req *request) bool {
	if !c.settle() {
		req.reply <- response{err: c.closedErr()}
		return false
	}
	if _, err := io.WriteString(c.port, req.cmd+"\r"); err != nil {
		c.setErr(err)
		req.reply <- response{err: fmt.Errorf("%w: write: %w", ErrClosed, err)}
		return false
	}
	timer := time.NewTimer(req.timeout)
	defer timer.Stop()
	expect := responsePrefix(req.cmd)
	var info []string
	submitted := false
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				req.reply <- response{info: info, submitted: submitted, err: c.closedErr()}
				return false
			}
			if c.urc(line, expect) {
				continue
			}
			if req.raw {
				continue // answers to an escape are dropped
			}
			if line == ">" {
				if req.pdu == "" || submitted {
					continue
				}
				req.pduWriting.Store(true)
				if _, err := io.WriteString(c.port, req.pdu+ctrlZ); err != nil {
					c.setErr(err)
					// Part of the PDU may have reached the modem.
					req.reply <- response{submitted: true, err: fmt.Errorf("%w: write: %w", ErrClosed, err)}
					return false
				}
				submitted = true
				timer.Reset(req.resultTimeout)
				continue
			}
			if strings.EqualFold(line, req.cmd) || (req.pdu != "" && strings.HasPrefix(line, req.pdu[:min(len(req.pdu), 16)])) {
				continue // echo
			}
			if final, err := ParseFinal(line); final {
				if req.pdu != "" && !submitted && err == nil {
					err = errors.New("at: OK before the prompt")
				}
				req.reply <- response{info: info, submitted: submitted, err: err}
				return true
			}
			info = append(info, line)
		case <-timer.C:
			if req.raw {
				req.reply <- response{}
				return true
			}
			if req.pdu != "" && !submitted {
				c.abortPrompt()
			}
			req.reply <- response{info: info, submitted: submitted, err: fmt.Errorf("%w to %s", ErrTimeout, commandName(req.cmd))}
			return true
		case <-req.ctx.Done():
			if req.pdu != "" && !submitted {
				c.abortPrompt()
			}
			req.reply <- response{info: info, submitted: submitted, err: req.ctx.Err()}
			return true
		case <-c.quit:
			req.reply <- response{info: info, submitted: submitted, err: ErrClosed}
			return false
		}
	}
}

// abortPrompt writes ESC so that a modem waiting for a PDU gives up.
func (c *Conn) abortPrompt() {
	if _, err := io.WriteString(c.port, esc); err != nil {
		c.setErr(err)
	}
	c.quietUntil = time.Now().Add(EscapeGuard)
}

// commandName is cmd without its arguments, for error messages.
func commandName(cmd string) string {
	if i := strings.IndexAny(cmd, "=?"); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

// responsePrefix is the prefix of the information lines cmd answers with:
// "+CREG:" for "AT+CREG?".
func responsePrefix(cmd string) string {
	name := strings.TrimPrefix(strings.ToUpper(commandName(cmd)), "AT")
	if name == "" || (name[0] != '+' && name[0] != '^') {
		return ""
	}
	return name + ":"
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
