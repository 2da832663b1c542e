package adbwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawServer answers host requests the way a test wants: features with
// shell_v2, the transport switch with OKAY, and the device service with
// answer (which may write nothing and close).
func rawServer(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				r := bufio.NewReader(c)
				req, err := ReadHex4(r)
				if err != nil {
					return
				}
				switch {
				case strings.HasSuffix(req, ":features"):
					fmt.Fprintf(c, "OKAY%04x%s", len("shell_v2"), "shell_v2")
				case strings.HasPrefix(req, "host:transport:"):
					c.Write([]byte("OKAY"))
					if _, err := ReadHex4(r); err != nil {
						return
					}
					answer(c)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestStartMarksFailuresAfterTheRequestWasSent(t *testing.T) {
	const secret = "+32470123456 secret text"
	cases := []struct {
		name   string
		answer func(c net.Conn)
		sent   bool
	}{
		{"dropped before the status", func(net.Conn) {}, true},
		{"garbled status", func(c net.Conn) { c.Write([]byte("WHAT")) }, true},
		{"explicit FAIL", func(c net.Conn) { fmt.Fprintf(c, "FAIL%04x%s", len("closed"), "closed") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := New(rawServer(t, tc.answer)).Device("R58M")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := dev.StartLabeled(ctx, "service call isms '"+secret+"'", "service call isms")
			if err == nil {
				t.Fatal("want an error")
			}
			if got := errors.Is(err, ErrAfterRequestSent); got != tc.sent {
				t.Errorf("errors.Is(%v, ErrAfterRequestSent) = %v, want %v", err, got, tc.sent)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error carries the command line: %v", err)
			}
			var se *ServerError
			if errors.As(err, &se) && strings.Contains(se.Request, secret) {
				t.Errorf("ServerError.Request carries the command line: %q", se.Request)
			}
		})
	}
}

func TestStartBeforeTheRequestIsNotMarked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the request never leaves
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = New(addr).Device("R58M").StartV2(ctx, "true")
	if err == nil || errors.Is(err, ErrAfterRequestSent) || !errors.Is(err, ErrNoServer) {
		t.Errorf("no server: Start = %v; want ErrNoServer, not ErrAfterRequestSent", err)
	}
}
