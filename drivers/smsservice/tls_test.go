package smsservice

import (
	"context"
	"crypto/sha256"
	"net/http/httptest"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/smsservice/phoneapp"
)

// TestTLSPin: the pinned certificate is accepted without a CA; any other
// is refused before the request leaves (transient).
func TestTLSPin(t *testing.T) {
	app := phoneapp.New(phoneapp.Options{})
	srv := httptest.NewTLSServer(app.Handler())
	defer srv.Close()
	defer app.Close()
	sum := sha256.Sum256(srv.Certificate().Raw)
	wrong := sum
	wrong[0] ^= 0xff
	tests := []struct {
		name string
		pin  []byte
		ok   bool
	}{
		{"pinned", sum[:], true},
		{"other pin", wrong[:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Options{BaseURL: srv.URL, PinSHA256: tt.pin, PollInterval: time.Hour})
			defer d.Close()
			_, err := d.Send(context.Background(), outbound("01JTLS"+tt.name))
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if de := classOf(t, err); de.Class != drivers.ClassTransient {
				t.Errorf("class = %s, want transient (nothing was written): %v", de.Class, err)
			}
		})
	}
}
