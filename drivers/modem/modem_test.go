package modem

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/drivertest"
	"smsgw/drivers/modem/modemsim"
	"smsgw/drivers/modem/pdu"
)

// fast are options for tests: short waits between reconnections, and a
// probe that only runs when a test asks for it.
func fast(m *modemsim.Modem) Options {
	return Options{
		Name:                "test",
		Port:                "pipe",
		Open:                func(context.Context) (io.ReadWriteCloser, error) { return m.Pipe() },
		CommandTimeout:      2 * time.Second,
		PromptTimeout:       5 * time.Second,
		SendTimeout:         5 * time.Second,
		RegistrationTimeout: time.Millisecond,
		RetryInterval:       10 * time.Millisecond,
		ProbeInterval:       time.Hour,
		DeliveryReports:     true,
	}
}

func open(t *testing.T, m *modemsim.Modem, edit func(*Options)) *Driver {
	t.Helper()
	o := fast(m)
	if edit != nil {
		edit(&o)
	}
	d, err := New(context.Background(), o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func message(id, text string) *drivers.Outbound {
	return &drivers.Outbound{ID: id, To: "+33612345678", Text: text, ExpiresAt: time.Now().Add(time.Hour), Attempt: 1}
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	modems := make(map[drivers.Driver]*modemsim.Modem)
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) drivers.Driver {
			m := modemsim.New(modemsim.Options{})
			o := fast(m)
			d, err := New(context.Background(), o, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			mu.Lock()
			modems[d] = m
			mu.Unlock()
			return d
		},
		Force: func(t *testing.T, d drivers.Driver, c drivers.Class) {
			mu.Lock()
			m := modems[d]
			mu.Unlock()
			switch c {
			case drivers.ClassTransient:
				m.Script(modemsim.Outcome{CMS: 331})
			case drivers.ClassPermanent:
				m.Script(modemsim.Outcome{CMS: 1})
			case drivers.ClassUncertain:
				m.Script(modemsim.Outcome{CMS: 500})
			}
		},
		Stall: func(t *testing.T, d drivers.Driver) func(context.Context) error {
			mu.Lock()
			m := modems[d]
			mu.Unlock()
			m.HoldPrompt()
			return m.WaitHeld
		},
	})
}

func TestCMSClasses(t *testing.T) {
	tests := []struct {
		cms   int
		class drivers.Class
	}{
		{1, drivers.ClassPermanent},
		{38, drivers.ClassTransient},
		{41, drivers.ClassTransient},
		{304, drivers.ClassPermanent},
		{330, drivers.ClassTransient}, // configuration: another driver may take it
		{310, drivers.ClassTransient}, // SIM fault
		{331, drivers.ClassTransient},
		{332, drivers.ClassUncertain},
		{500, drivers.ClassUncertain},
		{999, drivers.ClassUncertain}, // unknown code after the PDU left
	}
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, nil)
	for _, tt := range tests {
		m.Script(modemsim.Outcome{CMS: tt.cms})
		_, err := d.Send(ctx(t), message("cms-"+strings.Repeat("x", tt.cms%7), "hello"))
		de := drivers.Classify(err)
		if de == nil || de.Class != tt.class {
			t.Errorf("+CMS ERROR: %d gave %v, want class %s", tt.cms, err, tt.class)
		}
		if de != nil && de.Class == drivers.ClassTransient && tt.cms == 330 && de.RetryAfter == 0 {
			t.Errorf("+CMS ERROR: 330 has no RetryAfter")
		}
		// A SIM fault closes the connection for a new bring-up.
		waitReady(t, d)
	}
}

func TestTimeoutAfterPDUIsUncertain(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, func(o *Options) { o.SendTimeout = 50 * time.Millisecond })
	m.Script(modemsim.Outcome{NoAnswer: true})
	_, err := d.Send(ctx(t), message("t1", "hello"))
	if de := drivers.Classify(err); de.Class != drivers.ClassUncertain || de.Code != CodeTimeout {
		t.Fatalf("Send = %v, want uncertain timeout", err)
	}
	if n := len(m.Sent()); n != 1 {
		t.Errorf("modem sent %d messages, want 1", n)
	}
}

func TestMultipartResumesAfterTransientError(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, nil)
	text := strings.Repeat("abcdefghij", 40) // 3 parts
	m.Script(modemsim.Outcome{}, modemsim.Outcome{CMS: 41})
	msg := message("multi", text)
	if _, err := d.Send(ctx(t), msg); drivers.Classify(err).Class != drivers.ClassTransient {
		t.Fatalf("first Send = %v, want transient", err)
	}
	st, err := d.Status(ctx(t), msg.ID, "")
	if err != nil || st.State != drivers.SendPending {
		t.Errorf("Status after a partial send = %+v, %v; want pending", st, err)
	}
	msg.Attempt = 2
	r, err := d.Send(ctx(t), msg)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	sent := m.Sent()
	if len(sent) != 3 {
		t.Fatalf("modem sent %d parts, want 3 (part one only once)", len(sent))
	}
	var b strings.Builder
	for i, s := range sent {
		if s.Info.Concat == nil || s.Info.Concat.Seq != i+1 || s.Info.Concat.Total != 3 || s.Info.Concat.Ref != sent[0].Info.Concat.Ref {
			t.Errorf("part %d concat = %+v", i, s.Info.Concat)
		}
		b.WriteString(s.Info.Text)
	}
	if b.String() != text {
		t.Error("parts do not join to the text")
	}
	if r.Parts != 3 || r.Ref != "0,1,2" {
		t.Errorf("receipt = %+v, want 3 parts with refs 0,1,2", r)
	}
	// A third call for the same message does not send anything again.
	if _, err := d.Send(ctx(t), msg); err != nil || len(m.Sent()) != 3 {
		t.Errorf("resend of a sent message: %v, %d parts at the modem", err, len(m.Sent()))
	}
}

func nextEvent(t *testing.T, d *Driver) drivers.Event {
	t.Helper()
	select {
	case e := <-d.Events():
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no event (hang guard)")
		return drivers.Event{}
	}
}

func TestStatusReports(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts modemsim.Options
		want bool
	}{
		{"stored delivered", modemsim.Options{}, true},
		{"routed delivered", modemsim.Options{DirectReports: true}, true},
		{"stored failed", modemsim.Options{Undelivered: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := modemsim.New(tt.opts)
			d := open(t, m, nil)
			msg := message("dr-1", strings.Repeat("report ", 30)) // 2 parts
			r, err := d.Send(ctx(t), msg)
			if err != nil {
				t.Fatal(err)
			}
			if !r.DeliveryReports {
				t.Error("receipt says no delivery reports")
			}
			e := nextEvent(t, d)
			if e.Kind != drivers.EventDelivery || e.ID != msg.ID || e.Delivered != tt.want || e.Ref != r.Ref {
				t.Fatalf("event = %+v, want delivery of %s delivered=%v", e, msg.ID, tt.want)
			}
			st, _ := d.Status(ctx(t), msg.ID, r.Ref)
			want := drivers.SendDelivered
			if !tt.want {
				want = drivers.SendFailed
			}
			if st.State != want {
				t.Errorf("Status = %s, want %s", st.State, want)
			}
		})
	}
}

func TestStatusReportMatching(t *testing.T) {
	m := modemsim.New(modemsim.Options{NoReports: true})
	d := open(t, m, nil)
	for _, id := range []string{"a", "b"} { // references 0 and 1
		if _, err := d.Send(ctx(t), message(id, "hi")); err != nil {
			t.Fatal(err)
		}
	}
	// Wrong recipient, same reference: no match.
	d.statusReport(reportFor(0, "+4915112345678"), time.Now())
	// Right recipient, too late: no match.
	d.statusReport(reportFor(1, "+33612345678"), time.Now().Add(d.opts.ReportWindow+time.Hour))
	select {
	case e := <-d.Events():
		t.Fatalf("unexpected event %+v", e)
	default:
	}
	// National form of the right recipient, in time: a match.
	d.statusReport(reportFor(0, "0612345678"), time.Now())
	if e := nextEvent(t, d); e.ID != "a" || !e.Delivered {
		t.Errorf("event = %+v", e)
	}
	if st, _ := d.Status(ctx(t), "b", ""); st.State != drivers.SendSent {
		t.Errorf("b is %s, want still sent", st.State)
	}
}

func TestInbound(t *testing.T) {
	for _, direct := range []bool{false, true} {
		m := modemsim.New(modemsim.Options{})
		d := open(t, m, nil)
		if err := m.Inbound("+33698765432", "STOP", direct); err != nil {
			t.Fatal(err)
		}
		e := nextEvent(t, d)
		if e.Kind != drivers.EventInbound || e.From != "+33698765432" || e.Text != "STOP" || e.At.IsZero() {
			t.Errorf("direct=%v: event = %+v", direct, e)
		}
		if !direct {
			// The message is deleted after it was reported (emitting first
			// keeps it on the SIM if the driver dies in between). The event
			// comes before the AT+CMGD is even queued, so wait for the
			// delete itself rather than for a command round trip.
			waitStored(t, m, 0)
		}
	}
}

// waitStored waits until the modem's storage holds n messages.
func waitStored(t *testing.T, m *modemsim.Modem, n int) {
	t.Helper()
	c := ctx(t)
	for {
		got := m.Stored()
		if got == n {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("%d messages in storage, want %d", got, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestURCsDuringSend(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, nil)
	m.Script(modemsim.Outcome{URCs: []string{"^RSSI: 12", "+CMTI: \"SM\",0", "RING"}})
	if _, err := d.Send(ctx(t), message("u", "hello")); err != nil {
		t.Fatalf("Send with URCs in the middle: %v", err)
	}
}

func TestBringUp(t *testing.T) {
	t.Run("optional commands refused", func(t *testing.T) {
		m := modemsim.New(modemsim.Options{Refuse: []string{"+CMEE", "+CNMI", "+CEREG", "+CGREG"}})
		d := open(t, m, nil)
		if _, err := d.Send(ctx(t), message("o", "hi")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pin", func(t *testing.T) {
		m := modemsim.New(modemsim.Options{PIN: "4321"})
		d := open(t, m, func(o *Options) { o.PIN = func() (string, error) { return "4321", nil } })
		h, _ := d.Health(ctx(t))
		if h.State != drivers.StateReady || h.SIM != "ready" {
			t.Errorf("health = %+v", h)
		}
	})
	t.Run("wrong pin stops without retrying", func(t *testing.T) {
		m := modemsim.New(modemsim.Options{PIN: "4321"})
		o := fast(m)
		o.PIN = func() (string, error) { return "0000", nil }
		_, err := New(context.Background(), o, nil)
		if err == nil || !strings.Contains(err.Error(), "rejected the PIN") {
			t.Fatalf("New = %v, want a rejected PIN", err)
		}
		tries := 0
		for _, c := range m.Commands() {
			if strings.HasPrefix(c, "AT+CPIN=") {
				tries++
			}
		}
		if tries != 1 {
			t.Errorf("PIN entered %d times, want 1", tries)
		}
	})
	t.Run("no network", func(t *testing.T) {
		m := modemsim.New(modemsim.Options{Registration: 2})
		d := open(t, m, nil)
		_, err := d.Send(ctx(t), message("n", "hi"))
		if de := drivers.Classify(err); de.Class != drivers.ClassTransient || de.Code != CodeNoNetwork {
			t.Errorf("Send = %v, want transient no_network", err)
		}
		h, _ := d.Health(ctx(t))
		if h.State != drivers.StateDown || !strings.Contains(h.Detail, "searching") {
			t.Errorf("health = %+v", h)
		}
		m.SetRegistration(5)
		if h, _ := d.Health(ctx(t)); h.State != drivers.StateReady {
			t.Errorf("health after registering = %+v", h)
		}
		if _, err := d.Send(ctx(t), message("n2", "hi")); err != nil {
			t.Errorf("Send once registered: %v", err)
		}
	})
}

func TestHealthSignal(t *testing.T) {
	m := modemsim.New(modemsim.Options{RSSI: 10})
	d := open(t, m, nil)
	h, err := d.Health(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.SignalDBm == nil || *h.SignalDBm != -93 || h.Operator != "SimNet" || h.State != drivers.StateReady {
		t.Errorf("health = %+v", h)
	}
}

func TestRecoveryReopensAHungModem(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, func(o *Options) { o.CommandTimeout = 50 * time.Millisecond })
	reconnected := m.Connected()
	m.Hang()
	d.requestProbe()
	select {
	case <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the driver did not reopen the port (hang guard)")
	}
	waitReady(t, d)
	if _, err := d.Send(ctx(t), message("r", "hi")); err != nil {
		t.Fatalf("Send after recovery: %v", err)
	}
}

// waitReady polls until the driver is connected (a hang guard, not a timing
// assertion).
func waitReady(t *testing.T, d *Driver) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if h, _ := d.Health(ctx(t)); h.State == drivers.StateReady {
			return
		}
		if time.Now().After(deadline) {
			h, _ := d.Health(ctx(t))
			t.Fatalf("not ready: %+v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUnplugReplug(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, func(o *Options) { o.MaxFailures = 2 })
	m.Unplug()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, _ := d.Health(ctx(t))
		if h.State == drivers.StateDown && strings.Contains(h.Detail, "out of service") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not out of service after unplugging: %+v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := d.Send(ctx(t), message("u1", "hi")); drivers.Classify(err).Class != drivers.ClassTransient {
		t.Errorf("Send while unplugged = %v, want transient", err)
	}
	m.Replug()
	waitReady(t, d)
	if _, err := d.Send(ctx(t), message("u2", "hi")); err != nil {
		t.Fatalf("Send after replug: %v", err)
	}
}

func TestDiagnose(t *testing.T) {
	m := modemsim.New(modemsim.Options{SMSC: "-", RSSI: 3})
	d := open(t, m, nil)
	dg := d.Diagnose(ctx(t))
	if dg.OK {
		t.Errorf("diagnosis OK without an SMSC: %+v", dg)
	}
	status := map[string]string{}
	for _, c := range dg.Checks {
		status[c.Name] = c.Status
	}
	want := map[string]string{"port": "ok", "SIM": "ok", "network": "ok", "signal": "warn", "SMSC": "fail"}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("check %s = %q, want %q (%+v)", k, status[k], v, dg.Checks)
		}
	}
	if !strings.Contains(dg.Verdict, "SMSC") {
		t.Errorf("verdict %q does not name the SMSC", dg.Verdict)
	}
}

var errNoDevice = errors.New("no such device")

func TestDiagnoseAbsentPort(t *testing.T) {
	d, err := New(context.Background(), Options{Port: "/dev/ttyUSB9", Open: func(context.Context) (io.ReadWriteCloser, error) { return nil, errNoDevice }, RetryInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dg := d.Diagnose(ctx(t))
	if dg.OK || len(dg.Checks) == 0 || dg.Checks[0].Name != "port" || dg.Checks[0].Status != drivers.CheckFail || dg.Checks[0].Fix == "" {
		t.Errorf("diagnosis = %+v", dg)
	}
}

func reportFor(mr byte, to string) pdu.StatusReport {
	return pdu.StatusReport{MR: mr, Recipient: to, Status: 0}
}
