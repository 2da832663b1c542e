package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"smsgw/daemon/access"
)

// DefaultLANMaxConns caps a LAN listener's open connections when the
// configuration leaves api.lan.max_conns at zero.
const DefaultLANMaxConns = 64

// LANOptions configures ListenLAN.
type LANOptions struct {
	// Allow lists the networks peers must come from; empty: any private peer.
	Allow access.AllowList
	// MaxConns caps open connections; 0 means DefaultLANMaxConns.
	MaxConns int
	// InterfaceAddrs lists the machine's addresses, to judge 0.0.0.0 and
	// ::; nil means access.InterfaceAddrs.
	InterfaceAddrs func() ([]netip.Addr, error)
	// Log receives refused connections at info; nil discards them.
	Log *slog.Logger
}

// ListenLAN listens on TCP addr after access.CheckListen approved it, so a
// public address never gets a socket. The listener closes at once every
// connection from outside o.Allow, before a byte is read, and keeps at most
// o.MaxConns open: Accept waits for a slot.
func ListenLAN(ctx context.Context, addr string, o LANOptions) (net.Listener, error) {
	ifaces := o.InterfaceAddrs
	if ifaces == nil {
		ifaces = access.InterfaceAddrs
	}
	if err := access.CheckListen(addr, ifaces); err != nil {
		return nil, fmt.Errorf("api.lan.listen: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return WrapLAN(ln, o), nil
}

// WrapLAN wraps ln with the allow-list filter and the connection cap of
// ListenLAN.
func WrapLAN(ln net.Listener, o LANOptions) net.Listener {
	n := o.MaxConns
	if n <= 0 {
		n = DefaultLANMaxConns
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &lanListener{Listener: ln, allow: o.Allow, sem: make(chan struct{}, n), done: make(chan struct{}), log: log}
}

// lanListener filters and caps the connections of a LAN listener.
type lanListener struct {
	net.Listener
	allow access.AllowList
	sem   chan struct{}
	log   *slog.Logger

	closeOnce sync.Once
	done      chan struct{}
}

// errListenerClosed is returned by Accept after Close.
var errListenerClosed = net.ErrClosed

func (l *lanListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, errListenerClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		if !l.allow.Allows(c.RemoteAddr().String()) {
			l.log.Info("LAN connection refused: peer outside api.lan.allow", slog.String("peer", hostOf(c.RemoteAddr())))
			c.Close()
			<-l.sem
			continue
		}
		return &slotConn{Conn: c, release: func() { <-l.sem }}, nil
	}
}

func (l *lanListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// slotConn gives its listener slot back when closed.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Unwrap returns the underlying connection.
func (c *slotConn) Unwrap() net.Conn { return c.Conn }

func hostOf(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "?"
	}
	return ap.Addr().String()
}
