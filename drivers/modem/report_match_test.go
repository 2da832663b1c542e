package modem

import (
	"fmt"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/modem/modemsim"
	"smsgw/drivers/modem/pdu"
)

// TestStaleReportDoesNotMatchNewMessage: a status report that matches no
// send (a report for a message of a previous run, arriving after a restart)
// is kept in d.early only for reports that beat their +CMGS answer. A new
// message to the same number that gets the same reference (they wrap at
// 256) must not take the old report: only early reports that arrived after
// the part was handed to the modem apply.
func TestStaleReportDoesNotMatchNewMessage(t *testing.T) {
	m := modemsim.New(modemsim.Options{DirectReports: true, NoReports: true})
	d := open(t, m, nil)

	// A report for MR 0 to +33612345678, for a message taken by the service
	// centre two days ago by a previous run.
	old := time.Now().Add(-48 * time.Hour)
	h, n, err := pdu.StatusReport{MR: 0, Recipient: "+33612345678", SCTS: old, Discharge: old.Add(time.Minute), Status: 0}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.URC(fmt.Sprintf("+CDS: %d\r\n%s", n, h)); err != nil {
		t.Fatal(err)
	}
	// Let the URC be handled: the report is parked as an early report
	// before the new message is sent.
	waitEarly(t, d, 1)

	// A new message to the same number; the modem gives it MR 0. No real
	// report will come for it.
	r, err := d.Send(ctx(t), message("new-msg", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != "0" {
		t.Fatalf("ref %q, want 0", r.Ref)
	}
	select {
	case ev := <-d.Events():
		t.Errorf("new message reported %+v from a two-day-old report of another message", ev)
	case <-time.After(300 * time.Millisecond):
	}
	if st, _ := d.Status(ctx(t), "new-msg", ""); st.State == drivers.SendDelivered {
		t.Errorf("Status says delivered: %+v", st)
	}
}

// TestStatusAfterUncertainSendIsNotNotFound: the PDU went to the modem and
// no answer came (uncertain); Status must not say not_found, which the
// contract defines as "the device never received the message: resending is
// safe".
func TestStatusAfterUncertainSendIsNotNotFound(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, func(o *Options) { o.SendTimeout = 300 * time.Millisecond })
	m.Script(modemsim.Outcome{NoAnswer: true})
	_, err := d.Send(ctx(t), message("unsure", "hello"))
	if de := drivers.Classify(err); de == nil || de.Class != drivers.ClassUncertain {
		t.Fatalf("Send: %v, want uncertain", err)
	}
	if len(m.Sent()) != 1 {
		t.Fatalf("modem sent %d", len(m.Sent()))
	}
	st, err := d.Status(ctx(t), "unsure", "")
	if err == nil && st.State == drivers.SendNotFound {
		t.Errorf("Status = %+v after an uncertain send whose SMS left: a resend would deliver it twice", st)
	}
}

// waitEarly waits until at least n status reports wait for their send.
func waitEarly(t *testing.T, d *Driver, n int) {
	t.Helper()
	c := ctx(t)
	for {
		d.mu.Lock()
		got := len(d.early)
		d.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("%d early report(s), want %d", got, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestEarlyReportStillMatches: a report that beats its +CMGS answer (it
// arrives after the PDU was handed over) is still applied.
func TestEarlyReportStillMatches(t *testing.T) {
	m := modemsim.New(modemsim.Options{DirectReports: true, NoReports: true})
	d := open(t, m, nil)
	now := time.Now()
	h, n, err := pdu.StatusReport{MR: 0, Recipient: "+33612345678", SCTS: now, Discharge: now, Status: 0}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m.Script(modemsim.Outcome{URCs: []string{fmt.Sprintf("+CDS: %d\r\n%s", n, h)}})
	r, err := d.Send(ctx(t), message("fast", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != "0" {
		t.Fatalf("ref %q, want 0", r.Ref)
	}
	e := nextEvent(t, d)
	if e.Kind != drivers.EventDelivery || e.ID != "fast" || !e.Delivered {
		t.Errorf("event %+v", e)
	}
}
