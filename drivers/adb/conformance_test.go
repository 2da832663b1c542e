package adb

import (
	"context"
	"testing"
	"time"

	"smsgw/drivers"
	"smsgw/drivers/drivertest"
	"smsgw/drivers/smsservice/phoneapp"
)

// The rig (server, phone, app) is shared by the whole suite, so that the
// goroutine check sees only the driver's own goroutines.

func TestConformanceISMS(t *testing.T) {
	r := newRig(t, "android14", 34)
	p := r.phone
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) drivers.Driver { return r.open(t, r.options(ModeISMS)) },
		Force: func(t *testing.T, d drivers.Driver, c drivers.Class) {
			switch c {
			case drivers.ClassTransient:
				p.force(ismsIllegalState)
			case drivers.ClassPermanent:
				p.force(ismsSecurity)
			case drivers.ClassUncertain:
				p.force(ismsCut)
			}
		},
		Stall: func(t *testing.T, d drivers.Driver) func(context.Context) error {
			p.force(ismsStall)
			return p.waitStalled
		},
		HangGuard: 10 * time.Second,
	})
}

func TestConformanceForward(t *testing.T) {
	r := newRig(t, "android14", 34)
	app := r.withApp(t)
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) drivers.Driver { return r.open(t, r.options(ModeForward)) },
		Force: func(t *testing.T, d drivers.Driver, c drivers.Class) {
			app.ClearFaults()
			switch c {
			case drivers.ClassTransient:
				app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Status: 503, RetryAfter: "7", Body: `{"message":"queue full"}`})
			case drivers.ClassPermanent:
				app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Status: 400, Body: `{"message":"invalid phone number"}`})
			case drivers.ClassUncertain:
				app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Drop: true})
				app.Inject(phoneapp.Fault{Method: "GET", Path: "/message/", Status: 500})
			}
		},
		Stall: func(t *testing.T, d drivers.Driver) func(context.Context) error {
			app.ClearFaults()
			app.Inject(phoneapp.Fault{Method: "POST", Path: "/message", Stall: true})
			return func(ctx context.Context) error { return app.WaitStalled(ctx, 1) }
		},
		HangGuard: 10 * time.Second,
	})
}
