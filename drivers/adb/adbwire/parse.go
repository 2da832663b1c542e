package adbwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DeviceInfo is one line of the server's device list.
type DeviceInfo struct {
	Serial string
	// State is the server's word for the device: "device" (online),
	// "offline", "unauthorized", "authorizing", "recovery", … Unknown
	// states are kept as they are.
	State       string
	Product     string
	Model       string
	Device      string
	USB         string
	TransportID int64
}

// Online reports whether the device accepts commands.
func (d DeviceInfo) Online() bool { return d.State == "device" }

// ParseDevices parses the reply of host:devices, host:devices-l or one
// message of host:track-devices. Short lines are "serial<TAB>state"; long
// lines are "serial  state key:value…". A state may contain spaces ("no
// permissions (…)"), so words that are not known key:value pairs belong to
// the state.
func ParseDevices(s string) []DeviceInfo {
	var out []DeviceInfo
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if serial, state, ok := strings.Cut(line, "\t"); ok && !strings.Contains(state, "transport_id:") {
			if serial = strings.TrimSpace(serial); serial != "" {
				out = append(out, DeviceInfo{Serial: serial, State: strings.TrimSpace(state)})
			}
			continue
		}
		fields := strings.Fields(line)
		d := DeviceInfo{Serial: fields[0]}
		var state []string
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, ":")
			switch k {
			case "usb":
				d.USB = v
			case "product":
				d.Product = v
			case "model":
				d.Model = v
			case "device":
				if v != "" {
					d.Device = v
				} else {
					state = append(state, f)
				}
			case "transport_id":
				d.TransportID, _ = strconv.ParseInt(v, 10, 64)
			default:
				state = append(state, f)
			}
		}
		d.State = strings.Join(state, " ")
		out = append(out, d)
	}
	return out
}

// Forward is one forward of the server.
type Forward struct {
	Serial string
	Local  string
	Remote string
}

// ParseForwards parses the reply of list-forward: "serial local remote" lines.
func ParseForwards(s string) []Forward {
	var out []Forward
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		out = append(out, Forward{Serial: f[0], Local: f[1], Remote: f[2]})
	}
	return out
}

// Shell v2 packet ids.
const (
	v2Stdin      = 0
	v2Stdout     = 1
	v2Stderr     = 2
	v2Exit       = 3
	v2CloseStdin = 4
	v2Window     = 5
)

// maxV2Packet bounds one shell v2 packet; devices send at most 1 MiB.
const maxV2Packet = 4 << 20

// ErrNoExit reports a shell v2 stream that ended without an exit packet: the
// command's outcome is unknown.
var ErrNoExit = errors.New("shell stream ended without an exit status")

// ReadShellV2 reads shell v2 packets from r (id byte, little-endian uint32
// length, payload), copying stdout and stderr payloads to the writers,
// until the exit packet, and returns the exit status.
func ReadShellV2(r io.Reader, stdout, stderr io.Writer) (int, error) {
	var h [5]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, ErrNoExit
			}
			return 0, noEOF(err)
		}
		n := binary.LittleEndian.Uint32(h[1:])
		if n > maxV2Packet {
			return 0, fmt.Errorf("%w: shell packet of %d bytes", ErrProtocol, n)
		}
		var w io.Writer = io.Discard
		switch h[0] {
		case v2Stdout:
			w = stdout
		case v2Stderr:
			w = stderr
		case v2Exit:
			if n != 1 {
				return 0, fmt.Errorf("%w: exit packet of %d bytes", ErrProtocol, n)
			}
			var b [1]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, noEOF(err)
			}
			return int(b[0]), nil
		case v2Stdin, v2CloseStdin, v2Window:
		default:
			return 0, fmt.Errorf("%w: shell packet id %d", ErrProtocol, h[0])
		}
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return 0, noEOF(err)
		}
	}
}

// AppendShellV2 appends one shell v2 packet to b (for fakes and tests).
func AppendShellV2(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// Shell v2 ids for AppendShellV2.
const (
	ShellStdout byte = v2Stdout
	ShellStderr byte = v2Stderr
	ShellExit   byte = v2Exit
)
