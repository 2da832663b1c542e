// Package adbwire is smsgw's small client for the adb server's host
// ("smart socket") protocol: server version, the device list and its
// tracking stream, transport selection by serial, device features, shell
// commands with real exit codes (shell v2) or an exit marker (plain shell),
// exec, and port forwards.
//
// Every call takes a context whose deadline bounds the whole exchange, and
// uses one TCP connection of its own: the server closes most host
// connections after one reply, and a transport switch binds a connection to
// a single device service. Failures are typed: errors.Is with ErrNoServer,
// ErrUnauthorized, ErrOffline, ErrDeviceNotFound, and errors.As with
// *ServerError and *ExitError.
package adbwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultAddr is where the adb server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:5037"

// maxReply bounds one length-prefixed reply (the server's own limit is 64 KiB
// for a hex4 length; anything larger is a protocol error).
const maxReply = 0xffff

// Client talks to one adb server. The zero value is not usable; use New.
type Client struct {
	addr   string
	dialer net.Dialer
}

// New returns a client of the adb server at addr ("host:port").
func New(addr string) *Client {
	if addr == "" {
		addr = DefaultAddr
	}
	return &Client{addr: addr}
}

// Addr is the server address the client talks to.
func (c *Client) Addr() string { return c.addr }

// conn is one connection to the server, bound to a context: the context's
// deadline is the connection's, and cancelling the context unblocks any read
// or write in progress.
type conn struct {
	net.Conn
	r    *bufio.Reader
	ctx  context.Context
	stop func() bool
}

func (c *Client) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrNoServer, c.addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return &conn{Conn: nc, r: bufio.NewReader(nc), ctx: ctx, stop: stop}, nil
}

// Close closes the connection and releases its context hook.
func (c *conn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// Read reads from the buffered connection.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	return n, c.fix(err)
}

// fix turns an I/O error caused by the context into the context's error.
func (c *conn) fix(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if ctxErr := c.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// send writes one request: its length as four hex digits, then the text.
func (c *conn) send(req string) error {
	if len(req) == 0 || len(req) > maxReply {
		return fmt.Errorf("%w: request of %d bytes", ErrProtocol, len(req))
	}
	_, err := fmt.Fprintf(c.Conn, "%04x%s", len(req), req)
	return c.fix(err)
}

// status reads OKAY, or FAIL and its message as a *ServerError.
func (c *conn) status(req string) error {
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("adb %s: reading status: %w", req, noEOF(err))
	}
	switch string(b[:]) {
	case "OKAY":
		return nil
	case "FAIL":
		msg, err := c.hex4()
		if err != nil {
			return fmt.Errorf("adb %s: reading failure: %w", req, err)
		}
		return &ServerError{Request: req, Message: msg}
	}
	return fmt.Errorf("%w: adb %s: status %q", ErrProtocol, req, b[:])
}

// hex4 reads a length-prefixed string.
func (c *conn) hex4() (string, error) {
	return ReadHex4(c)
}

// ReadHex4 reads one length-prefixed string (four hex digits, then that many
// bytes) from r.
func ReadHex4(r io.Reader) (string, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(string(h[:]), 16, 16)
	if err != nil {
		return "", fmt.Errorf("%w: length %q", ErrProtocol, h[:])
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", noEOF(err)
	}
	return string(b), nil
}

// noEOF reports an early end of stream as io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// host sends one host request and reads its status, returning the open
// connection for the reply that follows.
func (c *Client) host(ctx context.Context, req string) (*conn, error) {
	cn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.send(req); err != nil {
		cn.Close()
		return nil, fmt.Errorf("adb %s: %w", req, err)
	}
	if err := cn.status(req); err != nil {
		cn.Close()
		return nil, err
	}
	return cn, nil
}

// hostString sends a host request whose reply is one length-prefixed string.
func (c *Client) hostString(ctx context.Context, req string) (string, error) {
	cn, err := c.host(ctx, req)
	if err != nil {
		return "", err
	}
	defer cn.Close()
	s, err := cn.hex4()
	if err != nil {
		return "", fmt.Errorf("adb %s: reading reply: %w", req, err)
	}
	return s, nil
}

// Version returns the adb server's protocol version (41 for adb 29).
func (c *Client) Version(ctx context.Context) (int, error) {
	s, err := c.hostString(ctx, "host:version")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: version %q", ErrProtocol, s)
	}
	return int(v), nil
}

// Devices lists the devices the server knows, in any state.
func (c *Client) Devices(ctx context.Context) ([]DeviceInfo, error) {
	s, err := c.hostString(ctx, "host:devices-l")
	if err != nil {
		return nil, err
	}
	return ParseDevices(s), nil
}

// TrackDevices subscribes to the server's device list and calls fn with the
// full list at once and after every change, until ctx is done or the
// server closes the stream (for example because it restarted). It always
// returns a non-nil error. The tracker misses some drops (a TCP device that
// vanished can stay silent until it reconnects), so callers poll as well.
func (c *Client) TrackDevices(ctx context.Context, fn func([]DeviceInfo)) error {
	cn, err := c.host(ctx, "host:track-devices")
	if err != nil {
		return err
	}
	defer cn.Close()
	for {
		s, err := cn.hex4()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("adb track-devices: %w", err)
		}
		fn(ParseDevices(s))
	}
}

// Connect asks the server to connect to a device over TCP ("host:port").
// The server answers OKAY even when the connection failed, so the reply
// text decides.
func (c *Client) Connect(ctx context.Context, hostport string) (string, error) {
	s, err := c.hostString(ctx, "host:connect:"+hostport)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(s, "failed") || strings.HasPrefix(s, "unable") {
		err := &ServerError{Request: "host:connect:" + hostport, Message: s}
		if strings.Contains(s, "authenticate") {
			return s, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return s, err
	}
	return s, nil
}

// ListForwards lists every forward of the server, for all devices.
func (c *Client) ListForwards(ctx context.Context) ([]Forward, error) {
	s, err := c.hostString(ctx, "host:list-forward")
	if err != nil {
		return nil, err
	}
	return ParseForwards(s), nil
}

// Device returns a handle on the device with serial.
func (c *Client) Device(serial string) *Device {
	return &Device{c: c, Serial: serial}
}
