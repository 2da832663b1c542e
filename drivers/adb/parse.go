package adb

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ParseGetprop parses `getprop` output: "[key]: [value]" lines.
func ParseGetprop(s string) map[string]string {
	props := make(map[string]string)
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "]: [")
		if !ok || !strings.HasPrefix(k, "[") || !strings.HasSuffix(v, "]") {
			continue
		}
		props[k[1:]] = v[:len(v)-1]
	}
	return props
}

// simState returns the SIM state of slot from gsm.sim.state, which holds one
// comma-separated entry per slot.
func simState(props map[string]string, slot int) string {
	return slotValue(props["gsm.sim.state"], slot)
}

// operator returns the registered network's name for slot.
func operator(props map[string]string, slot int) string {
	return slotValue(props["gsm.operator.alpha"], slot)
}

func slotValue(v string, slot int) string {
	parts := strings.Split(v, ",")
	if slot < 0 || slot >= len(parts) {
		return ""
	}
	return strings.TrimSpace(parts[slot])
}

// simUsable reports whether a SIM in state s can send.
func simUsable(s string) bool { return s == "READY" || s == "LOADED" }

// Battery is what `dumpsys battery` reports.
type Battery struct {
	Level, Scale int
	// Status: 1 unknown, 2 charging, 3 discharging, 4 not charging, 5 full.
	Status int
	// Plugged lists the power sources: "ac", "usb", "wireless", "dock".
	Plugged []string
	// Temperature in tenths of a degree Celsius.
	Temperature int
	// Health: 2 good, 3 overheat, 4 dead, 5 over-voltage, 6 failure, 7 cold.
	Health int
	// Faked is set when someone froze the values with `dumpsys battery set`.
	Faked bool
}

// Percent is the charge level in 0..100, or -1 when unknown.
func (b Battery) Percent() int {
	if b.Scale <= 0 || b.Level < 0 {
		return -1
	}
	return min(100, b.Level*100/b.Scale)
}

// Charging reports whether the battery charges or is full on power.
func (b Battery) Charging() bool { return b.Status == 2 || b.Status == 5 }

// StatusText names the battery status.
func (b Battery) StatusText() string {
	switch b.Status {
	case 2:
		return "charging"
	case 3:
		return "discharging"
	case 4:
		return "not charging"
	case 5:
		return "full"
	}
	return "unknown"
}

// ParseBattery parses `dumpsys battery`: indented "key: value" lines; unknown
// keys (OEM extras) are ignored. It reports false when no level was found.
func ParseBattery(s string) (Battery, bool) {
	b := Battery{Level: -1, Scale: 100}
	found := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "UPDATES STOPPED") {
			b.Faked = true
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		n, nerr := strconv.Atoi(v)
		switch k {
		case "level":
			if nerr == nil {
				b.Level, found = n, true
			}
		case "scale":
			if nerr == nil && n > 0 {
				b.Scale = n
			}
		case "status":
			b.Status = n
		case "health":
			b.Health = n
		case "temperature":
			b.Temperature = n
		case "AC powered", "USB powered", "Wireless powered", "Dock powered":
			if v == "true" {
				b.Plugged = append(b.Plugged, strings.ToLower(strings.TrimSuffix(k, " powered")))
			}
		}
	}
	return b, found
}

// Signal is the phone's signal strength.
type Signal struct {
	// DBm is the received power (RSRP for LTE, SS-RSRP for NR, RSSI for
	// GSM/WCDMA); valid when Known.
	DBm   int
	Known bool
	// Level is Android's 0..4 bars, or -1 when unknown.
	Level int
	// Tech is the technology measured: "lte", "nr", "gsm", "wcdma", "cdma", "tdscdma".
	Tech string
}

// invalid is Integer.MAX_VALUE, Android's "not available".
const invalid = math.MaxInt32

var (
	sigLineRE = regexp.MustCompile(`mSignalStrength=SignalStrength:\s*(.*)`)
	techRE    = regexp.MustCompile(`\bm(Cdma|Gsm|Wcdma|Tdscdma|Lte|Nr)=`)
	kvRE      = regexp.MustCompile(`(\w+)\s*=\s*(-?\d+)`)
	primaryRE = regexp.MustCompile(`primary=CellSignalStrength(\w+)`)
)

// ParseSignal parses the signal strength of phone slot from `dumpsys
// telephony.registry`, in the object format of Android 10+
// ("SignalStrength:{mCdma=…,mLte=CellSignalStrengthLte: rssi=… rsrp=…
// level=4 …,primary=CellSignalStrengthLte}") or the flat legacy format
// ("SignalStrength: 99 0 -120 -160 -120 -1 -1 26 -87 -7 262 … gsm|lte").
func ParseSignal(s string, slot int) (Signal, bool) {
	lines := sigLineRE.FindAllStringSubmatch(s, -1)
	if len(lines) == 0 {
		return Signal{Level: -1}, false
	}
	if slot < 0 || slot >= len(lines) {
		slot = 0
	}
	body := strings.TrimSpace(lines[slot][1])
	if strings.HasPrefix(body, "{") {
		return parseSignalObject(body)
	}
	return parseSignalLegacy(body)
}

func parseSignalObject(body string) (Signal, bool) {
	idx := techRE.FindAllStringSubmatchIndex(body, -1)
	values := make(map[string]map[string]int)
	for i, m := range idx {
		end := len(body)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		tech := strings.ToLower(body[m[2]:m[3]])
		seg := body[m[1]:end]
		if p := strings.Index(seg, "primary="); p >= 0 {
			seg = seg[:p]
		}
		kv := make(map[string]int)
		for _, x := range kvRE.FindAllStringSubmatch(seg, -1) {
			if n, err := strconv.Atoi(x[2]); err == nil {
				kv[x[1]] = n
			}
		}
		values[tech] = kv
	}
	pick := func(tech string) (Signal, bool) {
		kv, ok := values[tech]
		if !ok {
			return Signal{}, false
		}
		sig := Signal{Tech: tech, Level: -1}
		if l, ok := kv["level"]; ok && l >= 0 && l <= 4 {
			sig.Level = l
		}
		keys := map[string][]string{
			"lte": {"rsrp"}, "nr": {"ssRsrp", "csiRsrp"}, "gsm": {"rssi"},
			"wcdma": {"rssi", "rscp"}, "tdscdma": {"rscp", "rssi"}, "cdma": {"cdmaDbm", "evdoDbm"},
		}[tech]
		for _, k := range keys {
			if v, ok := kv[k]; ok && validDBm(v) {
				sig.DBm, sig.Known = v, true
				break
			}
		}
		return sig, sig.Known || sig.Level > 0
	}
	if m := primaryRE.FindStringSubmatch(body); m != nil {
		if sig, ok := pick(strings.ToLower(m[1])); ok {
			return sig, true
		}
	}
	for _, tech := range []string{"nr", "lte", "wcdma", "tdscdma", "gsm", "cdma"} {
		if sig, ok := pick(tech); ok {
			return sig, true
		}
	}
	return Signal{Level: -1}, false
}

func validDBm(v int) bool { return v != invalid && v <= -20 && v >= -160 }

func parseSignalLegacy(body string) (Signal, bool) {
	f := strings.Fields(body)
	num := func(i int) (int, bool) {
		if i >= len(f) {
			return 0, false
		}
		n, err := strconv.Atoi(f[i])
		return n, err == nil
	}
	if rsrp, ok := num(8); ok && rsrp != invalid && rsrp <= -44 && rsrp >= -140 {
		return Signal{DBm: rsrp, Known: true, Tech: "lte", Level: lteLevel(rsrp)}, true
	}
	if asu, ok := num(0); ok && asu >= 0 && asu <= 31 {
		dbm := -113 + 2*asu
		return Signal{DBm: dbm, Known: true, Tech: "gsm", Level: gsmLevel(dbm)}, true
	}
	return Signal{Level: -1}, false
}

func lteLevel(rsrp int) int {
	switch {
	case rsrp >= -85:
		return 4
	case rsrp >= -95:
		return 3
	case rsrp >= -105:
		return 2
	case rsrp >= -115:
		return 1
	}
	return 0
}

func gsmLevel(rssi int) int {
	switch {
	case rssi >= -89:
		return 4
	case rssi >= -97:
		return 3
	case rssi >= -103:
		return 2
	case rssi >= -107:
		return 1
	}
	return 0
}

// ParseDF returns the free space of the last filesystem line of `df`
// output, in KiB. It reads toybox's "1K-blocks … Available" columns
// (Android 7+, also `df -h`) and toolbox's "Size Used Free Blksize"
// human sizes (Android 6 and older).
func ParseDF(s string) (int64, bool) {
	var header []string
	var last []string
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "Filesystem" {
			header = f
			continue
		}
		if header != nil {
			last = f
		}
	}
	if header == nil || last == nil {
		return 0, false
	}
	col := -1
	for i, h := range header {
		if h == "Available" || h == "Avail" || h == "Free" {
			col = i
		}
	}
	if col < 0 || col >= len(last) {
		return 0, false
	}
	kib := slices1K(header)
	return parseSize(last[col], kib)
}

func slices1K(header []string) bool {
	for _, h := range header {
		if h == "1K-blocks" {
			return true
		}
	}
	return false
}

// parseSize reads "9.8G", "512M", "1.0G" or, in a 1K-blocks table, a
// plain count of KiB.
func parseSize(v string, kib bool) (int64, bool) {
	mult := 1.0
	switch {
	case strings.HasSuffix(v, "K"):
		v = strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<10, strings.TrimSuffix(v, "M")
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<20, strings.TrimSuffix(v, "G")
	case strings.HasSuffix(v, "T"):
		mult, v = 1<<30, strings.TrimSuffix(v, "T")
	default:
		if !kib {
			mult = 1.0 / 1024 // bytes
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || n*mult > math.MaxInt64/2 {
		return 0, false
	}
	return int64(n * mult), true
}

// ParseWhitelist reports whether pkg is on the Doze whitelist printed by
// `dumpsys deviceidle whitelist` ("system-excidle,pkg,uid", "user,pkg,uid").
func ParseWhitelist(s, pkg string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) >= 2 && f[1] == pkg {
			return true
		}
	}
	return false
}

// ParseSettingInt parses `settings get` output; "null" (unset) reports false.
func ParseSettingInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

var defaultSMSSubRE = regexp.MustCompile(`defaultSmsSubId\s*[=:]\s*(-?\d+)`)

// ParseDefaultSMSSub reads the default SMS subscription id from `dumpsys isub`.
func ParseDefaultSMSSub(s string) (int, bool) {
	m := defaultSMSSubRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
