package adb

import "testing"

func seedFixtures(f *testing.F, name string) {
	for _, dir := range []string{"android14", "android9", "android6"} {
		f.Add(readFixture(f, dir, name))
	}
}

func FuzzParseSignal(f *testing.F) {
	seedFixtures(f, "telephony_registry.txt")
	f.Fuzz(func(t *testing.T, s string) {
		sig, ok := ParseSignal(s, 0)
		if ok && sig.Known && !validDBm(sig.DBm) {
			t.Errorf("invalid dBm %d", sig.DBm)
		}
		if sig.Level < -1 || sig.Level > 4 {
			t.Errorf("level %d", sig.Level)
		}
	})
}

func FuzzParseBattery(f *testing.F) {
	seedFixtures(f, "battery.txt")
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := ParseBattery(s)
		if p := b.Percent(); ok && (p < -1 || p > 100) {
			t.Errorf("percent %d", p)
		}
	})
}

func FuzzParseDF(f *testing.F) {
	seedFixtures(f, "df.txt")
	f.Fuzz(func(t *testing.T, s string) {
		if kib, ok := ParseDF(s); ok && kib < 0 {
			t.Errorf("negative free space %d", kib)
		}
	})
}

func FuzzParseGetprop(f *testing.F) {
	seedFixtures(f, "getprop.txt")
	f.Fuzz(func(t *testing.T, s string) {
		p := ParseGetprop(s)
		_ = simState(p, 0)
		_ = operator(p, 1)
	})
}

func FuzzParseParcelReply(f *testing.F) {
	f.Add("Result: Parcel(00000000    '....')\n")
	f.Add("Result: Parcel(\n  0x00000000: fffffffd 00000010 00720041 '....'\n)")
	f.Add("service: Service isms does not exist\n")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseParcelReply(s)
		if err == nil && len(r.Words) == 0 {
			t.Error("a reply without words")
		}
	})
}

func FuzzParseWhitelist(f *testing.F) {
	seedFixtures(f, "deviceidle_whitelist.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_ = ParseWhitelist(s, "me.capcom.smsgateway")
		_, _ = ParseDefaultSMSSub(s)
		_, _ = ParseSettingInt(s)
	})
}
