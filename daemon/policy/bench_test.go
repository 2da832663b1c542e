package policy

import (
	"testing"
	"time"

	"smsgw/daemon/client"
)

// BenchmarkPrepare measures the storage-free policy gate on an OTP
// request: client and purpose checks, the template's declared params with
// an anchored pattern, number normalisation (libphonenumber), rendering
// and the segment plan.
func BenchmarkPrepare(b *testing.B) {
	cfg := rulesConfig()
	cfg.Policy.DefaultRegion = "FR"
	p := New(cfg)
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, bb := range []struct{ name, to string }{
		{"e164", "+33612345678"},
		{"national", "06 12 34 56 78"},
	} {
		req := client.SubmitRequest{To: bb.to, Purpose: "otp", Params: map[string]string{"code": "123456"}}
		if m, ref := p.Prepare(req, "shop", now); ref != nil || m.To != "+33612345678" || m.Parts != 1 {
			b.Fatalf("%s: Prepare = %+v, %v", bb.name, m, ref)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ref := p.Prepare(req, "shop", now); ref != nil {
					b.Fatal(ref)
				}
			}
		})
	}
}
