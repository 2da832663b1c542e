package smsservice

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/drivertest"
	"smsgw/drivers/smsservice/phoneapp"
)

// testSecret signs the simulated app's webhooks.
var testSecret = []byte("webhook-signing-key")

// startApp serves a simulated phone app for the whole test.
func startApp(t *testing.T, o phoneapp.Options) (*phoneapp.App, *httptest.Server) {
	t.Helper()
	if o.SigningKey == nil {
		o.SigningKey = testSecret
	}
	app := phoneapp.New(o)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		app.Close()
		srv.Close()
	})
	return app, srv
}

func newDriver(t *testing.T, o Options) *Driver {
	t.Helper()
	d, err := New("phone", o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestConformance(t *testing.T) {
	dialects := []struct {
		name    string
		opts    func(url string) Options
		postTo  string
		lookups bool
	}{
		{
			name: "smsgate",
			opts: func(url string) Options {
				return Options{Dialect: DialectSMSGate, BaseURL: url, DeliveryReports: true, PollInterval: time.Hour,
					Webhook: WebhookOptions{Listen: "127.0.0.1:0", Secret: testSecret}}
			},
			postTo:  "/message",
			lookups: true,
		},
		{
			name:   "simple",
			opts:   func(url string) Options { return Options{Dialect: DialectSimple, BaseURL: url} },
			postTo: "/send",
		},
	}
	for _, dl := range dialects {
		t.Run(dl.name, func(t *testing.T) {
			app, srv := startApp(t, phoneapp.Options{})
			var mu sync.Mutex // faults are queued on the one app, in test order
			drivertest.Run(t, drivertest.Harness{
				New: func(t *testing.T) drivers.Driver { return newDriver(t, dl.opts(srv.URL)) },
				Force: func(t *testing.T, d drivers.Driver, c drivers.Class) {
					mu.Lock()
					defer mu.Unlock()
					app.ClearFaults()
					switch c {
					case drivers.ClassTransient:
						app.Inject(phoneapp.Fault{Method: "POST", Path: dl.postTo, Status: 503, RetryAfter: "7", Body: `{"message":"queue full"}`})
					case drivers.ClassPermanent:
						app.Inject(phoneapp.Fault{Method: "POST", Path: dl.postTo, Status: 400, Body: `{"message":"invalid phone number"}`})
					case drivers.ClassUncertain:
						// The connection drops after the request was read;
						// for smsgate the lookup that follows fails too.
						app.Inject(phoneapp.Fault{Method: "POST", Path: dl.postTo, Drop: true})
						if dl.lookups {
							app.Inject(phoneapp.Fault{Method: "GET", Path: "/message/", Status: 500})
						}
					}
				},
				Stall: func(t *testing.T, d drivers.Driver) func(context.Context) error {
					app.ClearFaults()
					app.Inject(phoneapp.Fault{Method: "POST", Path: dl.postTo, Stall: true})
					return func(ctx context.Context) error { return app.WaitStalled(ctx, 1) }
				},
				HangGuard: 10 * time.Second,
			})
		})
	}
}

func phoneappOpts() phoneapp.Options { return phoneapp.Options{} }
