package at

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// peer is a hand-written modem: for each line it reads (up to CR, or up
// to Ctrl-Z/ESC after a prompt), it writes the scripted raw answer.
type peer struct {
	conn net.Conn
	got  chan string
}

func newPeer(t *testing.T, answers map[string]string) (*Conn, *peer) {
	t.Helper()
	a, b := net.Pipe()
	p := &peer{conn: b, got: make(chan string, 64)}
	go func() {
		r := bufio.NewReader(b)
		var cur bytes.Buffer
		for {
			c, err := r.ReadByte()
			if err != nil {
				close(p.got)
				return
			}
			if c != '\r' && c != 0x1a && c != 0x1b {
				cur.WriteByte(c)
				continue
			}
			line := cur.String()
			cur.Reset()
			switch c {
			case 0x1a:
				line += "<CTRL-Z>"
			case 0x1b:
				line += "<ESC>"
			}
			p.got <- line
			if ans, ok := answers[line]; ok {
				_, _ = b.Write([]byte(ans))
			}
		}
	}()
	c := New(a, nil)
	t.Cleanup(func() { _ = c.Close() })
	return c, p
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name     string
		cmd      string
		answer   string
		wantInfo []string
		wantErr  string
		urcs     []string
	}{
		{"ok", "", "\r\nOK\r\n", nil, "", nil},
		{"echo on", "+CSQ", "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n", []string{"+CSQ: 20,99"}, "", nil},
		{"cme numeric", "+CPIN?", "\r\n+CME ERROR: 10\r\n", nil, "+CME ERROR: 10", nil},
		{"cme text", "+CPIN?", "\r\n+CME ERROR: SIM busy\r\n", nil, "+CME ERROR: SIM busy", nil},
		{"plain error", "+CPMS?", "\r\nERROR\r\n", nil, "ERROR", nil},
		{"urc in the middle", "+CSQ", "\r\n^RSSI: 12\r\n+CSQ: 20,99\r\n+CMTI: \"SM\",3\r\nOK\r\n", []string{"+CSQ: 20,99"}, "", []string{"^RSSI: 12", "+CMTI: \"SM\",3"}},
		{"own prefix is no urc", "+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n", []string{"+CREG: 0,1"}, "", nil},
		{"lf only", "+CSQ", "\n+CSQ: 5,99\nOK\n", []string{"+CSQ: 5,99"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newPeer(t, map[string]string{"AT" + tt.cmd: tt.answer})
			info, err := c.Command(tctx(t), tt.cmd, 5*time.Second)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Command: %v", err)
			}
			if tt.wantErr != "" {
				var ae *Error
				if !errors.As(err, &ae) || !strings.Contains(ae.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
			}
			if strings.Join(info, "|") != strings.Join(tt.wantInfo, "|") {
				t.Errorf("info = %q, want %q", info, tt.wantInfo)
			}
			for _, want := range tt.urcs {
				select {
				case u := <-c.URCs():
					if u.Line != want {
						t.Errorf("URC = %q, want %q", u.Line, want)
					}
				case <-tctx(t).Done():
					t.Fatal("URC missing")
				}
			}
		})
	}
}

func TestSendPDU(t *testing.T) {
	const pdu = "0001000B917228001011F100000CC8329BFD065DDF72363904"
	c, p := newPeer(t, map[string]string{
		"AT+CMGS=24":          "AT+CMGS=24\r\r\n> ",
		pdu + "<CTRL-Z>":      pdu + "\x1a\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314800CC8F71D14969741F977FD07\r\n^RSSI: 9\r\n+CMGS: 42\r\n\r\nOK\r\n",
		"AT+CMGS=10":          "\r\n+CMS ERROR: 304\r\n",
		"AT+CMGS=11":          "", // no prompt
		"AT+CMGS=12":          "\r\n> ",
		"0012<CTRL-Z>":        "", // no result
		"<ESC>":               "\r\nOK\r\n",
		"AT+CMGS=13":          "\r\n> ",
		"0013<CTRL-Z>":        "\r\n+CMS ERROR: 500\r\n",
		"AT":                  "\r\nOK\r\n",
		"AT+CMGS=14":          "\r\n> ",
		"AT+CMGS=14-not-used": "",
	})
	info, submitted, err := c.SendPDU(tctx(t), "+CMGS=24", pdu, 5*time.Second, 5*time.Second)
	if err != nil || !submitted || len(info) != 1 || info[0] != "+CMGS: 42" {
		t.Fatalf("SendPDU = %q, %v, %v", info, submitted, err)
	}
	u := <-c.URCs()
	if !strings.HasPrefix(u.Line, "+CMT:") || !strings.HasPrefix(u.PDU, "0791") {
		t.Errorf("+CMT URC = %+v", u)
	}
	if u := <-c.URCs(); u.Line != "^RSSI: 9" {
		t.Errorf("URC = %+v", u)
	}

	_, submitted, err = c.SendPDU(tctx(t), "+CMGS=10", "00", 5*time.Second, 5*time.Second)
	var ae *Error
	if !errors.As(err, &ae) || ae.Kind != KindCMS || ae.Code != 304 || submitted {
		t.Errorf("CMS before prompt: %v, submitted %v", err, submitted)
	}

	_, submitted, err = c.SendPDU(tctx(t), "+CMGS=11", "0011", 50*time.Millisecond, 5*time.Second)
	if !errors.Is(err, ErrTimeout) || submitted {
		t.Errorf("no prompt: %v, submitted %v", err, submitted)
	}
	waitFor(t, p, "<ESC>") // a stale prompt is aborted

	_, submitted, err = c.SendPDU(tctx(t), "+CMGS=12", "0012", 5*time.Second, 50*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !submitted {
		t.Errorf("no result: %v, submitted %v", err, submitted)
	}

	_, submitted, err = c.SendPDU(tctx(t), "+CMGS=13", "0013", 5*time.Second, 5*time.Second)
	if !errors.As(err, &ae) || ae.Code != 500 || !submitted {
		t.Errorf("CMS after PDU: %v, submitted %v", err, submitted)
	}

	// Cancelling while waiting for the prompt aborts it.
	ctx, cancel := context.WithCancel(tctx(t))
	done := make(chan error, 1)
	go func() {
		_, _, err := c.SendPDU(ctx, "+CMGS=11", "0011", time.Minute, time.Minute)
		done <- err
	}()
	waitFor(t, p, "AT+CMGS=11")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	waitFor(t, p, "<ESC>")
	if _, err := c.Command(tctx(t), "", 5*time.Second); err != nil {
		t.Errorf("AT after the abort: %v", err)
	}
}

func waitFor(t *testing.T, p *peer, line string) {
	t.Helper()
	for {
		select {
		case got, ok := <-p.got:
			if !ok {
				t.Fatalf("peer closed before %q", line)
			}
			if got == line {
				return
			}
		case <-tctx(t).Done():
			t.Fatalf("peer never got %q", line)
		}
	}
}

func TestPortFailureEndsConnection(t *testing.T) {
	c, p := newPeer(t, nil)
	_ = p.conn.Close()
	select {
	case <-c.Done():
	case <-tctx(t).Done():
		t.Fatal("Done not closed after the port failed")
	}
	if _, err := c.Command(tctx(t), "", time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Command after failure = %v, want ErrClosed", err)
	}
	if _, ok := <-c.URCs(); ok {
		t.Error("URC channel still open")
	}
}

func TestParsers(t *testing.T) {
	if dbm, ok, err := ParseCSQ("+CSQ: 31,99"); err != nil || !ok || dbm != -51 {
		t.Errorf("CSQ 31 = %d %v %v", dbm, ok, err)
	}
	if _, ok, _ := ParseCSQ("+CSQ: 99,99"); ok {
		t.Error("CSQ 99 is known")
	}
	for line, want := range map[string]Registration{
		"+CREG: 0,1":                     RegHome,
		"+CREG: 2,5,\"1A2B\",\"0C3D\",7": RegRoaming,
		"+CREG: 1,\"1A2B\",\"0C3D\"":     RegHome, // unsolicited form
		"+CEREG: 0,3":                    RegDenied,
		"+CGREG: 2":                      RegSearching,
	} {
		if got, err := ParseRegistration(line); err != nil || got != want {
			t.Errorf("ParseRegistration(%q) = %v, %v; want %v", line, got, err, want)
		}
	}
	if op, _ := ParseCOPS(`+COPS: 0,0,"Orange F",7`); op != "Orange F" {
		t.Errorf("COPS = %q", op)
	}
	if mr, err := ParseCMGS("+CMGS: 198"); err != nil || mr != 198 {
		t.Errorf("CMGS = %d %v", mr, err)
	}
	for line, want := range map[string]int{"+CMGR: 1,,25": 25, "+CMGR: 0,23": 23, "+CMGR: 4,1,,151": 151, "+CMT: ,24": 24, "+CDS: 25": 25} {
		if n, err := ParsePDULength(line); err != nil || n != want {
			t.Errorf("ParsePDULength(%q) = %d %v", line, n, err)
		}
	}
	if mem, idx, err := ParseIndex(`+CDSI: "SR",0`); err != nil || mem != "SR" || idx != 0 {
		t.Errorf("ParseIndex = %q %d %v", mem, idx, err)
	}
}

func FuzzLineParser(f *testing.F) {
	for _, s := range []string{
		"\r\nOK\r\n", "AT+CMGS=23\r\r\n> 00", "\r\n+CMTI: \"SM\",5\r\n+CMS ERROR: 500\r\n",
		"+CREG: 2,5,\"1A2B\",\"0C3D\",7\n+CSQ: 99,99\r", ">>>\r\n+CMGR: ,,92\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Split(SplitTokens)
		for sc.Scan() {
			line := sc.Text()
			if strings.ContainsAny(line, "\r\n") {
				t.Fatalf("token %q holds a line end", line)
			}
			_, _ = IsURC(line)
			if final, err := ParseFinal(line); !final && err != nil {
				t.Fatal("error result that is not final")
			}
			_, _, _ = ParseCSQ(line)
			_, _ = ParseRegistration(line)
			_, _ = ParseCMGS(line)
			_, _ = ParseCOPS(line)
			_, _, _ = ParseIndex(line)
			_, _ = ParsePDULength(line)
		}
	})
}

// TestSendPDUReturnsWhenPDUWriteBlocks: the modem gives the prompt, then
// stops reading, so the write of the PDU blocks. SendPDU returns once its
// context ends, says the PDU may have left, and resets the connection so
// the loop is not stuck.
func TestSendPDUReturnsWhenPDUWriteBlocks(t *testing.T) {
	a, b := net.Pipe()
	started := make(chan struct{})
	go func() {
		// Read one byte at a time: a buffered reader would take the whole
		// PDU write at once.
		one := make([]byte, 1)
		for {
			if _, err := b.Read(one); err != nil {
				return
			}
			if one[0] == '\r' {
				break
			}
		}
		_, _ = b.Write([]byte("\r\n> "))
		// Take the first byte of the PDU, proving its write began, then
		// read nothing more: the rest of the write blocks.
		if _, err := b.Read(one); err != nil {
			return
		}
		close(started)
	}()
	c := New(a, nil)
	t.Cleanup(func() { _ = c.Close(); _ = b.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-started
		cancel()
	}()
	_, submitted, err := c.SendPDU(ctx, "+CMGS=5", "0011000B91", time.Minute, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the context's", err)
	}
	if !submitted {
		t.Error("submitted = false while the PDU was being written")
	}
	select {
	case <-c.Done():
	case <-tctx(t).Done():
		t.Fatal("connection not reset (hang guard)")
	}
}

// TestCommandReturnsWhenWriteBlocks: nobody reads the port; a command with
// a context that never ends still returns (its own timeout plus a grace
// period) and resets the connection.
func TestCommandReturnsWhenWriteBlocks(t *testing.T) {
	a, b := net.Pipe()
	c := New(a, nil)
	t.Cleanup(func() { _ = c.Close(); _ = b.Close() })
	_, err := c.Command(context.Background(), "", 50*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want a timeout", err)
	}
	select {
	case <-c.Done():
	case <-tctx(t).Done():
		t.Fatal("connection not reset (hang guard)")
	}
}
