package adb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFixture(t testing.TB, dir, name string) string {
	b, err := os.ReadFile(filepath.Join(fixtures, dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		slot  int
		dbm   int
		level int
		tech  string
		ok    bool
	}{
		{"android14 lte primary", readFixture(t, "android14", "telephony_registry.txt"), 0, -98, 3, "lte", true},
		{"android14 slot 1 invalid", readFixture(t, "android14", "telephony_registry.txt"), 1, 0, -1, "", false},
		{"android9 legacy lte", readFixture(t, "android9", "telephony_registry.txt"), 0, -87, 3, "lte", true},
		{"android6 legacy gsm", readFixture(t, "android6", "telephony_registry.txt"), 0, -85, 4, "gsm", true},
		{"nr with spaces", "mSignalStrength=SignalStrength:{mCdma=Invalid,mLte=Invalid,mNr=CellSignalStrengthNr:{ csiRsrp = 2147483647 ssRsrp = -92 level = 3 },primary=CellSignalStrengthNr}", 0, -92, 3, "nr", true},
		{"gsm rssi 99 absent", "mSignalStrength=SignalStrength: 99 0 -120 -160 -120 -1 -1 99 2147483647 x", 0, 0, -1, "", false},
		{"none", "nothing here", 0, 0, -1, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := ParseSignal(tt.in, tt.slot)
			if ok != tt.ok || (ok && (s.DBm != tt.dbm || s.Level != tt.level || s.Tech != tt.tech)) {
				t.Errorf("ParseSignal = %+v %v, want %d dBm level %d %s %v", s, ok, tt.dbm, tt.level, tt.tech, tt.ok)
			}
		})
	}
}

func TestParseBattery(t *testing.T) {
	tests := []struct {
		dir      string
		percent  int
		status   string
		plugged  string
		temp     int
		faked    bool
		charging bool
	}{
		{"android14", 84, "charging", "usb", 326, false, true},
		{"android9", 90, "not charging", "ac", 26, false, false},
		{"android6", 12, "discharging", "", 468, true, false},
	}
	for _, tt := range tests {
		b, ok := ParseBattery(readFixture(t, tt.dir, "battery.txt"))
		if !ok || b.Percent() != tt.percent || b.StatusText() != tt.status || strings.Join(b.Plugged, "+") != tt.plugged ||
			b.Temperature != tt.temp || b.Faked != tt.faked || b.Charging() != tt.charging {
			t.Errorf("%s: ParseBattery = %+v %v", tt.dir, b, ok)
		}
	}
	if _, ok := ParseBattery("Can't find service: battery"); ok {
		t.Error("an error message parsed as a battery")
	}
}

func TestParseDF(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kib  int64
		ok   bool
	}{
		{"toybox", readFixture(t, "android14", "df.txt"), 53615720, true},
		{"toolbox", readFixture(t, "android6", "df.txt"), 60 << 10, true},
		{"toybox -h", "Filesystem Size Used Avail Use% Mounted on\n/dev/block/dm-43 24G 23G 1.0G 96% /data\n", 1 << 20, true},
		{"error", "df: /data: Permission denied\n", 0, false},
	}
	for _, tt := range tests {
		if kib, ok := ParseDF(tt.in); kib != tt.kib || ok != tt.ok {
			t.Errorf("%s: ParseDF = %d %v, want %d %v", tt.name, kib, ok, tt.kib, tt.ok)
		}
	}
}

func TestParseGetpropAndSIM(t *testing.T) {
	p := ParseGetprop("[gsm.sim.state]: [READY,ABSENT]\n[gsm.operator.alpha]: [Orange F,]\n[empty]: []\nnoise\n")
	if simState(p, 0) != "READY" || simState(p, 1) != "ABSENT" || simState(p, 2) != "" || operator(p, 0) != "Orange F" {
		t.Errorf("props = %v", p)
	}
	if v, ok := p["empty"]; !ok || v != "" {
		t.Errorf("empty value = %q %v", v, ok)
	}
}

func TestParseParcelReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ex   int32
		msg  string
		err  bool
	}{
		{"ok", "Result: Parcel(00000000    '....')\n", 0, "", false},
		{"security", "Result: Parcel(ffffffff 0000002b 00650053 00750063 '....+...S.e.c.u')\n", -1, "+Secu", false},
		{"dump form", "Result: Parcel(\n  0x00000000: fffffffd 00000010 00720041 00750067 '........A.r.g.u.'\n  0x00000010: 0065006d 0074006e '..m.e.n.t.')\n", -3, "Argument", false},
		{"reply header", "Result: Parcel(ffffff80 00000004 00000000 '............')\n", 0, "", false},
		{"no service", "service: Service isms does not exist\n", 0, "", true},
		{"empty", "Result: Parcel()\n", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseParcelReply(tt.in)
			if (err != nil) != tt.err || (err == nil && (r.Exception != tt.ex || r.Message != tt.msg)) {
				t.Errorf("= %+v %v, want exception %d message %q err %v", r, err, tt.ex, tt.msg, tt.err)
			}
		})
	}
}

func TestISMSCommand(t *testing.T) {
	tests := []struct {
		sdk  int
		pkg  string
		want string
	}{
		{34, "", "service call isms 5 i32 3 i32 -1 i32 -1 s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0 i32 1 i64 0"},
		{30, "com.example", "service call isms 5 i32 3 s16 'com.example' i32 -1 s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0 i32 1 i64 0"},
		{29, "", "service call isms 6 i32 3 s16 'com.android.shell' s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0 i32 1"},
		{23, "", "service call isms 6 i32 3 s16 'com.android.shell' s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0 i32 1"},
		{22, "", "service call isms 9 s16 'com.android.shell' s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0"},
		{19, "", "service call isms 5 s16 'com.android.shell' s16 '+3247' i32 -1 s16 'it'\\''s' i32 0 i32 0"},
		{18, "", ""},
	}
	for _, tt := range tests {
		got, err := ismsCommand(tt.sdk, 3, tt.pkg, "+3247", "it's")
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("sdk %d: %q %v\nwant %q", tt.sdk, got, err, tt.want)
		}
	}
}

func TestParseMisc(t *testing.T) {
	if !ParseWhitelist(readFixture(t, "android14", "deviceidle_whitelist.txt"), "me.capcom.smsgateway") ||
		ParseWhitelist(readFixture(t, "android9", "deviceidle_whitelist.txt"), "me.capcom.smsgateway") {
		t.Error("ParseWhitelist")
	}
	if n, ok := ParseSettingInt("null\n"); ok || n != 0 {
		t.Error("null setting parsed")
	}
	if n, ok := ParseSettingInt("45\n"); !ok || n != 45 {
		t.Error("setting 45 not parsed")
	}
	if id, ok := ParseDefaultSMSSub(readFixture(t, "android6", "isub.txt")); !ok || id != 2 {
		t.Errorf("default SMS sub = %d %v", id, ok)
	}
}
