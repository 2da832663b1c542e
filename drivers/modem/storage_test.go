package modem

import (
	"io"
	"testing"

	"smsgw/drivers"
	"smsgw/drivers/modem/modemsim"
)

// TestStoredWhileDownIsRead: a message that reached the SIM while smsgw was
// not running (its +CMTI went to nobody) is read at bring-up (AT+CMGL), so a
// STOP sent during a restart is not lost, and it is deleted from storage.
func TestStoredWhileDownIsRead(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	// Someone else has the port (or nobody reads it): the indication is lost.
	connected := m.Connected()
	raw, err := m.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	<-connected
	go io.Copy(io.Discard, raw)
	if err := m.Inbound("+33698765432", "STOP", false); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if m.Stored() != 1 {
		t.Fatalf("stored %d", m.Stored())
	}

	d := open(t, m, nil)
	e := nextEvent(t, d)
	if e.Kind != drivers.EventInbound || e.Text != "STOP" || e.From != "+33698765432" {
		t.Errorf("event %+v", e)
	}
	// Bring-up deletes what it read before New returns.
	if n := m.Stored(); n != 0 {
		t.Errorf("%d messages left in storage", n)
	}
}
