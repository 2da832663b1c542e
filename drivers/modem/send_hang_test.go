package modem

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/modem/at"
	"smsgw/drivers/modem/modemsim"
)

// stuckPort passes through to the simulated modem until stick is called;
// then every write blocks until the port is closed, as a write to a wedged
// USB serial device with a full output buffer does.
type stuckPort struct {
	io.ReadWriteCloser
	mu     sync.Mutex
	stuck  bool
	closed chan struct{}
	once   sync.Once
}

func (p *stuckPort) stick() { p.mu.Lock(); p.stuck = true; p.mu.Unlock() }

func (p *stuckPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	stuck := p.stuck
	p.mu.Unlock()
	if stuck {
		<-p.closed
		return 0, io.ErrClosedPipe
	}
	return p.ReadWriteCloser.Write(b)
}

func (p *stuckPort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return p.ReadWriteCloser.Close()
}

// TestSendReturnsWhenWriteBlocks: once the AT loop has taken the request,
// a write that blocks must not keep Send (and the dispatcher's worker)
// stuck past its deadline: Send returns and the connection is reset.
func TestSendReturnsWhenWriteBlocks(t *testing.T) {
	m := modemsim.New(modemsim.Options{})
	var port *stuckPort
	d := open(t, m, func(o *Options) {
		o.Open = func(context.Context) (io.ReadWriteCloser, error) {
			rw, err := m.Pipe()
			if err != nil {
				return nil, err
			}
			port = &stuckPort{ReadWriteCloser: rw, closed: make(chan struct{})}
			return port, nil
		}
	})
	port.stick()
	sctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := d.Send(sctx, message("stuck", "hello"))
		done <- err
	}()
	select {
	case err := <-done:
		if de := drivers.Classify(err); de == nil || de.Class == drivers.ClassPermanent {
			t.Errorf("Send = %v", err)
		}
	case <-time.After(1500 * time.Millisecond):
		t.Error("Send did not return after its context ended (write to the port blocked)")
		_ = port.Close() // release it
		<-done
	}
}

// TestCMEAfterPDUIsUncertain: a +CME ERROR that answers AT+CMGS after the
// PDU was written (some modems report network failures this way) does not
// prove that nothing left: uncertain, as the doc says of any unknown code
// after the PDU left. Before the PDU it stays transient.
func TestCMEAfterPDUIsUncertain(t *testing.T) {
	_, err := at.ParseFinal("+CME ERROR: 100")
	if de := classify(err, true); de.Class != drivers.ClassUncertain {
		t.Errorf("classify(+CME ERROR: 100, submitted) = %s (%s); want uncertain", de.Class, de.Code)
	}
	if de := classify(err, false); de.Class != drivers.ClassTransient {
		t.Errorf("classify(+CME ERROR: 100, not submitted) = %s (%s); want transient", de.Class, de.Code)
	}
}
