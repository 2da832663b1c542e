package modem

import (
	"strings"
	"testing"

	"smsgw/drivers"
	"smsgw/drivers/modem/modemsim"
)

// TestTransientAfterPartialSendIsSameDevice: part 1 of 3 left, part 2 got
// a transient +CMS. Send returns transient with SameDevice set, so the
// dispatcher retries on this driver only (which resumes at the missing
// part) instead of failing over to a device that would send part 1 again.
// A failure before anything left stays free to fail over.
func TestTransientAfterPartialSendIsSameDevice(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	d := open(t, m, nil)
	m.Script(modemsim.Outcome{}, modemsim.Outcome{CMS: 330}) // SMSC unknown: "routes fail over"
	_, err := d.Send(ctx(t), message("partial", strings.Repeat("abcdefghij", 40)))
	if left := len(m.Sent()); left != 1 {
		t.Fatalf("%d part(s) left, want 1", left)
	}
	de := drivers.Classify(err)
	if de == nil || de.Class != drivers.ClassTransient || !de.SameDevice {
		t.Errorf("Send = %v (SameDevice %v); want transient with SameDevice", err, de != nil && de.SameDevice)
	}

	m.Script(modemsim.Outcome{CMS: 330})
	_, err = d.Send(ctx(t), message("nothing-left", strings.Repeat("abcdefghij", 40)))
	if de := drivers.Classify(err); de == nil || de.Class != drivers.ClassTransient || de.SameDevice {
		t.Errorf("Send with nothing left = %v; want transient without SameDevice", err)
	}
}
