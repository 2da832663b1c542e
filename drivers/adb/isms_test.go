package adb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/adb/adbwire"
)

// TestISMSErrorOmitsNumberAndText: when the isms stream breaks, the
// uncertain error (which the dispatcher stores and logs) must not carry the
// shell command line: the full phone number and the message text.
func TestISMSErrorOmitsNumberAndText(t *testing.T) {
	r := newRig(t, "android14", 34)
	d := r.open(t, r.options(ModeISMS))
	r.phone.force(ismsCut)
	const to, text = "+32470123456", "Your secret code is 918273"
	_, err := d.Send(testCtx(t), message("01LEAK", to, text))
	if err == nil {
		t.Fatal("want an error")
	}
	if s := err.Error(); strings.Contains(s, to) || strings.Contains(s, "918273") {
		t.Errorf("error exposes the recipient and the message text: %s", s)
	}
}

// TestISMSRefusedErrorOmitsNumberAndText: the server refuses the isms
// service with FAIL. Nothing ran, so the send is transient, and neither the
// error nor Health's LastError names the recipient or the text.
func TestISMSRefusedErrorOmitsNumberAndText(t *testing.T) {
	r := newRig(t, "android14", 34)
	px := newADBProxy(t, r.srv.Addr())
	px.refuse = true
	o := r.optionsFor(px.ln.Addr().String(), serial, ModeISMS)
	o.PollInterval = time.Hour
	d := r.open(t, o)
	const to, text = "+32470123456", "Your secret code is 918273"
	_, err := d.Send(testCtx(t), message("01FAIL", to, text))
	if n := len(r.phone.sentSMS()); n != 0 {
		t.Fatalf("phone sent %d SMS, want 0", n)
	}
	if de := classOf(t, err); de.Class != drivers.ClassTransient {
		t.Errorf("refused by the server: Send = %v; want transient", err)
	}
	if s := err.Error(); strings.Contains(s, to) || strings.Contains(s, "918273") {
		t.Errorf("error exposes the recipient and the message text: %s", s)
	}
	h, err := d.(drivers.HealthChecker).Health(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.LastError, to) || strings.Contains(h.LastError, "918273") {
		t.Errorf("Health.LastError exposes the recipient and the message text: %s", h.LastError)
	}
}

// adbProxy sits between the driver and the fake adb server. For the
// connection that carries `service call isms`, it forwards the request (so
// the phone runs it) but drops the connection before the server's OKAY
// reaches the client: the USB link went away after adbd started the shell.
// With refuse set, it answers that request with FAIL itself instead, and
// the phone never sees it.
type adbProxy struct {
	ln      net.Listener
	backend string
	refuse  bool
	wg      sync.WaitGroup
}

func newADBProxy(t *testing.T, backend string) *adbProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &adbProxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.handle(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *adbProxy) handle(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer b.Close()
	cr := bufio.NewReader(c)
	br := bufio.NewReader(b)
	// First request (host:...).
	req, err := adbwire.ReadHex4(cr)
	if err != nil {
		return
	}
	writeHex4(b, req)
	if !strings.HasPrefix(req, "host:transport") {
		splice(c, cr, b, br)
		return
	}
	var st [4]byte
	if _, err := io.ReadFull(br, st[:]); err != nil {
		return
	}
	c.Write(st[:])
	if string(st[:]) != "OKAY" {
		io.Copy(c, br)
		return
	}
	svc, err := adbwire.ReadHex4(cr)
	if err != nil {
		return
	}
	if p.refuse && strings.Contains(svc, "service call isms") {
		c.Write([]byte("FAIL"))
		writeHex4(c, "closed")
		return
	}
	writeHex4(b, svc)
	if strings.Contains(svc, "service call isms") {
		// The device ran it; its OKAY is lost with the link.
		io.ReadFull(br, st[:])
		io.Copy(io.Discard, br)
		return
	}
	splice(c, cr, b, br)
}

// splice copies both ways and closes both ends once either side ends.
func splice(c net.Conn, cr io.Reader, b net.Conn, br io.Reader) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, cr); done <- struct{}{} }()
	go func() { io.Copy(c, br); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
}

func writeHex4(w io.Writer, s string) {
	fmt.Fprintf(w, "%04x%s", len(s), s)
}

// TestISMSStartFailureAfterDeviceRanIsUncertain: the shell service was
// opened on the phone (the SMS left) but the OKAY never reached us. The
// request had been written to the server, so the send is uncertain, not
// transient: a transient error would make the dispatcher send it again.
func TestISMSStartFailureAfterDeviceRanIsUncertain(t *testing.T) {
	r := newRig(t, "android14", 34)
	px := newADBProxy(t, r.srv.Addr())
	o := r.optionsFor(px.ln.Addr().String(), serial, ModeISMS)
	o.PollInterval = time.Hour
	d := r.open(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := d.Send(ctx, message("01DROP", "+32470123456", "hi"))
	if n := len(r.phone.sentSMS()); n != 1 {
		t.Fatalf("phone sent %d SMS, want 1 (the rig did not reproduce the drop)", n)
	}
	if de := drivers.Classify(err); de == nil || de.Class != drivers.ClassUncertain {
		t.Errorf("SMS left the phone, but Send returned %v (class %v): the dispatcher will resend it", err, de)
	}
	if err != nil && strings.Contains(err.Error(), "+32470123456") {
		t.Errorf("error exposes the recipient: %v", err)
	}
}
