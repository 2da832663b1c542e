// Package modemsim is a simulated GSM modem that speaks AT commands in PDU
// mode, for tests and for trying smsgw without hardware. It serves an
// in-memory pipe (fast unit tests) or a pseudo-terminal whose path a
// serial-port driver opens like a real modem.
//
// Its behaviour is scriptable: echo, PIN, registration, signal, the answer
// to the next AT+CMGS (a +CMS ERROR, no answer, URCs in between), a prompt
// held back, status reports, inbound messages, unplugging and replugging.
package modemsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsgw/drivers/modem/pdu"
)

// Options is the modem's initial state. The zero value is a ready modem:
// echo on, no PIN, registered at home, good signal, SMSC set.
type Options struct {
	// PIN, when set, must be entered before the SIM is ready.
	PIN string
	// Registration is the +CREG <stat>; zero means 1 (home).
	Registration int
	// RSSI is the +CSQ value; zero means 20 (-73 dBm).
	RSSI int
	// SMSC is the +CSCA answer; "-" means none.
	SMSC string
	// Refuse lists commands (as "+CMEE", "+CPMS", "+CEREG") the modem
	// answers with ERROR, as some modems refuse optional ones.
	Refuse []string
	// DirectReports sends status reports as +CDS (routed); otherwise they
	// are stored and announced with +CDSI.
	DirectReports bool
	// Undelivered makes status reports say the message failed.
	Undelivered bool
	// NoReports turns off status reports.
	NoReports bool
}

// Outcome scripts the answer to one AT+CMGS.
type Outcome struct {
	// CMS, when non-zero, is the +CMS ERROR code answered after the PDU.
	CMS int
	// NoAnswer gives no final result after the PDU (the message left).
	NoAnswer bool
	// URCs are written between the PDU and the final result.
	URCs []string
}

// Sent is a message the modem accepted.
type Sent struct {
	MR   int
	Info pdu.SubmitInfo
}

// Modem is one simulated modem. Its methods are safe for concurrent use.
type Modem struct {
	mu        sync.Mutex
	opts      Options
	echo      bool
	simReady  bool
	pinTries  int
	reg       int
	rssi      int
	mr        int
	outcomes  []Outcome
	holds     int
	held      chan struct{} // signalled when a held AT+CMGS arrives
	hung      bool
	unplugged bool
	store     map[int]stored
	nextIndex int
	sent      []Sent
	commands  []string
	conn      *session
	connCh    chan struct{} // closed and replaced whenever conn changes
}

type stored struct {
	pdu string
	n   int
}

// New returns a modem in the state opts describe.
func New(opts Options) *Modem {
	m := &Modem{
		opts:     opts,
		echo:     true,
		simReady: opts.PIN == "",
		pinTries: 3,
		reg:      opts.Registration,
		rssi:     opts.RSSI,
		store:    make(map[int]stored),
		held:     make(chan struct{}, 16),
		connCh:   make(chan struct{}),
	}
	if m.reg == 0 {
		m.reg = 1
	}
	if m.rssi == 0 {
		m.rssi = 20
	}
	if m.opts.SMSC == "" {
		m.opts.SMSC = "+33609001390"
	}
	return m
}

// Pipe returns one end of an in-memory connection to the modem, as if its
// port had just been opened. It fails while the modem is unplugged.
func (m *Modem) Pipe() (io.ReadWriteCloser, error) {
	m.mu.Lock()
	unplugged := m.unplugged
	m.mu.Unlock()
	if unplugged {
		return nil, errors.New("modemsim: no such device")
	}
	a, b := net.Pipe()
	go m.Serve(b)
	return a, nil
}

// session is one open connection.
type session struct {
	rw  io.ReadWriteCloser
	wmu sync.Mutex
}

func (s *session) write(text string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = io.WriteString(s.rw, text)
}

// Serve answers AT commands on rw until it fails or the modem is
// unplugged. Opening a new connection un-hangs the modem, as reopening a
// wedged USB modem's port often does.
func (m *Modem) Serve(rw io.ReadWriteCloser) error {
	s := &session{rw: rw}
	m.mu.Lock()
	if m.conn != nil {
		_ = m.conn.rw.Close()
	}
	m.conn = s
	m.hung = false
	close(m.connCh)
	m.connCh = make(chan struct{})
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.conn == s {
			m.conn = nil
		}
		m.mu.Unlock()
		_ = rw.Close()
	}()
	r := bufio.NewReader(rw)
	for {
		line, err := readCommand(r)
		if err != nil {
			return err
		}
		m.handle(s, r, line)
	}
}

// readCommand reads up to CR, dropping LF and stray ESC or Ctrl-Z.
func readCommand(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		switch c {
		case '\r':
			return strings.TrimSpace(b.String()), nil
		case '\n', 0x1a, 0x1b:
		default:
			b.WriteByte(c)
		}
	}
}

// readPDU reads the hex PDU after the prompt up to Ctrl-Z; aborted is true
// when ESC came first.
func readPDU(r *bufio.Reader) (hexPDU string, aborted bool, err error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", false, err
		}
		switch c {
		case 0x1a:
			return strings.TrimSpace(b.String()), false, nil
		case 0x1b:
			return "", true, nil
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
}

func (m *Modem) refuses(cmd string) bool {
	for _, r := range m.opts.Refuse {
		if strings.HasPrefix(strings.ToUpper(cmd), "AT"+strings.ToUpper(r)) {
			return true
		}
	}
	return false
}

const (
	ok    = "\r\nOK\r\n"
	errAT = "\r\nERROR\r\n"
)

func (m *Modem) handle(s *session, r *bufio.Reader, cmd string) {
	m.mu.Lock()
	if m.hung {
		m.mu.Unlock()
		return
	}
	m.commands = append(m.commands, cmd)
	echo := m.echo
	m.mu.Unlock()
	if cmd == "" {
		return
	}
	if echo {
		s.write(cmd + "\r")
	}
	up := strings.ToUpper(cmd)
	if !strings.HasPrefix(up, "AT") {
		s.write(errAT)
		return
	}
	m.mu.Lock()
	refused := m.refuses(cmd)
	m.mu.Unlock()
	if refused {
		s.write(errAT)
		return
	}
	body := up[2:]
	switch {
	case body == "" || body == "Z" || body == "&F" || body == "V1" || strings.HasPrefix(body, "+CMEE") ||
		strings.HasPrefix(body, "+CMGF=0") || strings.HasPrefix(body, "+CNMI") || strings.HasPrefix(body, "+CPMS") ||
		strings.HasPrefix(body, "+CSCA=") || strings.HasPrefix(body, "+CNMA") || body == "+COPS=3,0" ||
		strings.HasSuffix(body, "REG=2") || strings.HasSuffix(body, "REG=1") || strings.HasPrefix(body, "+CMMS"):
		s.write(ok)
	case body == "E0" || body == "E1":
		m.mu.Lock()
		m.echo = body == "E1"
		m.mu.Unlock()
		s.write(ok)
	case body == "+CPIN?":
		s.write(m.cpin())
	case strings.HasPrefix(body, "+CPIN="):
		s.write(m.enterPIN(strings.Trim(cmd[len("AT+CPIN="):], `"`)))
	case body == "+CSCA?":
		m.mu.Lock()
		smsc := m.opts.SMSC
		m.mu.Unlock()
		if smsc == "-" {
			smsc = ""
		}
		s.write(fmt.Sprintf("\r\n+CSCA: \"%s\",145\r\n%s", smsc, ok))
	case body == "+CREG?" || body == "+CGREG?" || body == "+CEREG?":
		m.mu.Lock()
		reg, ready := m.reg, m.simReady
		m.mu.Unlock()
		if !ready {
			reg = 0
		}
		s.write(fmt.Sprintf("\r\n%s: 0,%d\r\n%s", strings.TrimSuffix(body, "?"), reg, ok))
	case body == "+CSQ":
		m.mu.Lock()
		rssi := m.rssi
		m.mu.Unlock()
		s.write(fmt.Sprintf("\r\n+CSQ: %d,99\r\n%s", rssi, ok))
	case body == "+COPS?":
		m.mu.Lock()
		reg := m.reg
		m.mu.Unlock()
		if reg == 1 || reg == 5 {
			s.write("\r\n+COPS: 0,0,\"SimNet\",7\r\n" + ok)
		} else {
			s.write("\r\n+COPS: 0\r\n" + ok)
		}
	case strings.HasPrefix(body, "+CFUN=1,1"):
		s.write(ok)
	case strings.HasPrefix(body, "+CMGS="):
		m.cmgs(s, r, body)
	case strings.HasPrefix(body, "+CMGR="):
		m.cmgr(s, body)
	case strings.HasPrefix(body, "+CMGD="):
		m.mu.Lock()
		idx, _ := strconv.Atoi(body[len("+CMGD="):])
		delete(m.store, idx)
		m.mu.Unlock()
		s.write(ok)
	case strings.HasPrefix(body, "+CMGL"):
		m.mu.Lock()
		var b strings.Builder
		for i := range m.nextIndex {
			if st, found := m.store[i]; found {
				fmt.Fprintf(&b, "\r\n+CMGL: %d,0,,%d\r\n%s", i, st.n, st.pdu)
			}
		}
		m.mu.Unlock()
		s.write(b.String() + "\r\n" + ok)
	default:
		s.write(errAT)
	}
}

func (m *Modem) cpin() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.simReady:
		return "\r\n+CPIN: READY\r\n" + ok
	case m.pinTries == 0:
		return "\r\n+CPIN: SIM PUK\r\n" + ok
	}
	return "\r\n+CPIN: SIM PIN\r\n" + ok
}

func (m *Modem) enterPIN(pin string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.simReady {
		return ok
	}
	if m.pinTries == 0 {
		return "\r\n+CME ERROR: 12\r\n"
	}
	if pin != m.opts.PIN {
		m.pinTries--
		return "\r\n+CME ERROR: 16\r\n"
	}
	m.simReady = true
	return ok
}

func (m *Modem) cmgs(s *session, r *bufio.Reader, body string) {
	n, err := strconv.Atoi(body[len("+CMGS="):])
	m.mu.Lock()
	ready := m.simReady
	reg := m.reg
	hold := m.holds > 0
	if hold {
		m.holds--
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		s.write(errAT)
		return
	case !ready:
		s.write("\r\n+CMS ERROR: 311\r\n")
		return
	case reg != 1 && reg != 5:
		s.write("\r\n+CMS ERROR: 331\r\n")
		return
	}
	if hold {
		m.held <- struct{}{}
		// No prompt: the next byte from the host (ESC) ends the wait.
		if _, err := r.ReadByte(); err != nil {
			return
		}
		s.write("\r\n+CMS ERROR: 304\r\n")
		return
	}
	s.write("\r\n> ")
	h, aborted, err := readPDU(r)
	if err != nil {
		return
	}
	if aborted {
		s.write(ok)
		return
	}
	m.mu.Lock()
	echo := m.echo
	m.mu.Unlock()
	if echo {
		s.write(h + "\x1a")
	}
	_, tpdu, err := pdu.SplitSMSC(h, n)
	var info pdu.SubmitInfo
	if err == nil {
		info, err = pdu.DecodeSubmit(tpdu)
	}
	if err != nil {
		s.write("\r\n+CMS ERROR: 304\r\n")
		return
	}
	m.mu.Lock()
	var out Outcome
	if len(m.outcomes) > 0 {
		out, m.outcomes = m.outcomes[0], m.outcomes[1:]
	}
	m.mu.Unlock()
	for _, u := range out.URCs {
		s.write("\r\n" + u + "\r\n")
	}
	if out.CMS != 0 {
		s.write(fmt.Sprintf("\r\n+CMS ERROR: %d\r\n", out.CMS))
		return
	}
	m.mu.Lock()
	mr := m.mr
	m.mr = (m.mr + 1) % 256
	m.sent = append(m.sent, Sent{MR: mr, Info: info})
	m.mu.Unlock()
	if !out.NoAnswer {
		s.write(fmt.Sprintf("\r\n+CMGS: %d\r\n%s", mr, ok))
	}
	if info.StatusReport && !m.opts.NoReports {
		m.report(s, mr, info.To)
	}
}

// report sends the status report for message reference mr.
func (m *Modem) report(s *session, mr int, to string) {
	now := time.Now()
	st := byte(0)
	if m.opts.Undelivered {
		st = 0x46
	}
	h, n, err := pdu.StatusReport{MR: byte(mr), Recipient: to, SCTS: now, Discharge: now, Status: st}.Encode()
	if err != nil {
		return
	}
	if m.opts.DirectReports {
		s.write(fmt.Sprintf("\r\n+CDS: %d\r\n%s\r\n", n, h))
		return
	}
	idx := m.put(h, n)
	s.write(fmt.Sprintf("\r\n+CDSI: \"SM\",%d\r\n", idx))
}

func (m *Modem) put(h string, n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	idx := m.nextIndex
	m.nextIndex++
	m.store[idx] = stored{pdu: h, n: n}
	return idx
}

func (m *Modem) cmgr(s *session, body string) {
	idx, err := strconv.Atoi(body[len("+CMGR="):])
	m.mu.Lock()
	st, found := m.store[idx]
	m.mu.Unlock()
	if err != nil || !found {
		s.write("\r\n+CMS ERROR: 321\r\n")
		return
	}
	s.write(fmt.Sprintf("\r\n+CMGR: 0,,%d\r\n%s\r\n%s", st.n, st.pdu, ok))
}

// Script queues answers for the next AT+CMGS commands, one each.
func (m *Modem) Script(o ...Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outcomes = append(m.outcomes, o...)
}

// HoldPrompt makes the next AT+CMGS get no prompt; the modem waits until
// the host writes something (such as ESC). WaitHeld blocks until it came.
func (m *Modem) HoldPrompt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holds++
}

// WaitHeld waits until an AT+CMGS held by HoldPrompt has arrived.
func (m *Modem) WaitHeld(ctx context.Context) error {
	select {
	case <-m.held:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hang makes the modem stop answering until its port is opened again.
func (m *Modem) Hang() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hung = true
}

// SetRegistration sets the network registration state (+CREG <stat>).
func (m *Modem) SetRegistration(stat int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reg = stat
}

// SetRSSI sets the +CSQ signal value.
func (m *Modem) SetRSSI(rssi int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rssi = rssi
}

// Unplug drops the current connection and makes Pipe fail until Replug,
// like a USB modem pulled out.
func (m *Modem) Unplug() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unplugged = true
	if m.conn != nil {
		_ = m.conn.rw.Close()
	}
}

// Replug makes the modem available again.
func (m *Modem) Replug() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unplugged = false
}

// Connected returns a channel closed the next time a connection opens.
func (m *Modem) Connected() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connCh
}

// Inbound delivers a message from sender. Stored messages are announced
// with +CMTI and read with AT+CMGR; direct ones come as +CMT.
func (m *Modem) Inbound(from, text string, direct bool) error {
	h, n, err := pdu.Deliver{From: from, Text: text, SentAt: time.Now()}.Encode()
	if err != nil {
		return err
	}
	m.mu.Lock()
	s := m.conn
	m.mu.Unlock()
	if s == nil {
		return errors.New("modemsim: not connected")
	}
	if direct {
		s.write(fmt.Sprintf("\r\n+CMT: ,%d\r\n%s\r\n", n, h))
		return nil
	}
	idx := m.put(h, n)
	s.write(fmt.Sprintf("\r\n+CMTI: \"SM\",%d\r\n", idx))
	return nil
}

// URC writes an unsolicited line, such as "^RSSI: 12", to the host.
func (m *Modem) URC(line string) error {
	m.mu.Lock()
	s := m.conn
	m.mu.Unlock()
	if s == nil {
		return errors.New("modemsim: not connected")
	}
	s.write("\r\n" + line + "\r\n")
	return nil
}

// Sent returns the messages the modem accepted, in order.
func (m *Modem) Sent() []Sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sent(nil), m.sent...)
}

// Commands returns every command line the modem received, in order.
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.commands...)
}

// Stored returns how many messages sit in the modem's storage.
func (m *Modem) Stored() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.store)
}
