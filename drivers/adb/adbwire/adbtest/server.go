// Package adbtest holds fakes for testing code that talks to adb: Server,
// an in-process adb server speaking the host protocol, and Adbd, a fake
// device speaking the device transport protocol to a real adb server. Both
// delegate what the device does to a Phone.
package adbtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"smsgw/drivers/adb/adbwire"
)

// Phone is what a fake device does when asked.
type Phone interface {
	// Shell runs one shell command line. A negative code makes the stream
	// end without an exit status, as when the device drops mid-command.
	Shell(cmd string) (stdout, stderr []byte, code int)
	// DialTCP connects to a TCP port on the device.
	DialTCP(port int) (net.Conn, error)
}

// markerRE recognises a command wrapped by adbwire.WrapExitMarker.
var markerRE = regexp.MustCompile(`(?s)^\((.*)\n\); smsgw_rc=\$\?; echo; echo (\S+):\$smsgw_rc$`)

// runPlain runs a plain shell: or exec: command line, emulating the exit
// marker wrapper as sh would.
func runPlain(p Phone, cmd string) []byte {
	if m := markerRE.FindStringSubmatch(cmd); m != nil {
		out, errb, code := p.Shell(m[1])
		if code < 0 {
			return append(out, errb...)
		}
		return fmt.Appendf(append(out, errb...), "\n%s:%d\n", m[2], code)
	}
	out, errb, _ := p.Shell(cmd)
	return append(out, errb...)
}

// runV2 runs a shell v2 command and returns its packets.
func runV2(p Phone, cmd string) []byte {
	out, errb, code := p.Shell(cmd)
	var b []byte
	if len(out) > 0 {
		b = adbwire.AppendShellV2(b, adbwire.ShellStdout, out)
	}
	if len(errb) > 0 {
		b = adbwire.AppendShellV2(b, adbwire.ShellStderr, errb)
	}
	if code < 0 {
		return b
	}
	return adbwire.AppendShellV2(b, adbwire.ShellExit, []byte{byte(code)})
}

// Server is an in-process adb server. It answers the host services smsgw
// uses from a list of fake devices, installs real loopback listeners for
// forwards, and removes a device's forwards when it leaves the "device"
// state, as the real server does.
type Server struct {
	ln net.Listener

	mu       sync.Mutex
	devices  map[string]*device
	order    []string
	forwards map[int]*forward
	trackers map[net.Conn]bool
	requests []string
	closed   bool
	wg       sync.WaitGroup
}

type device struct {
	state    string
	features []string
	phone    Phone
}

type forward struct {
	serial string
	remote int
	ln     net.Listener
}

// NewServer starts a fake server on a loopback port.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, devices: map[string]*device{}, forwards: map[int]*forward{}, trackers: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the server's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetDevice adds or replaces a device. A state other than "device" removes
// its forwards.
func (s *Server) SetDevice(serial, state string, features []string, p Phone) {
	s.mu.Lock()
	if _, ok := s.devices[serial]; !ok {
		s.order = append(s.order, serial)
	}
	s.devices[serial] = &device{state: state, features: features, phone: p}
	if state != "device" {
		s.dropForwardsLocked(serial)
	}
	s.mu.Unlock()
	s.notify()
}

// SetState changes a device's state (e.g. "offline", "unauthorized").
func (s *Server) SetState(serial, state string) {
	s.mu.Lock()
	if d, ok := s.devices[serial]; ok {
		d.state = state
		if state != "device" {
			s.dropForwardsLocked(serial)
		}
	}
	s.mu.Unlock()
	s.notify()
}

// Remove unplugs a device: it leaves the list and loses its forwards.
func (s *Server) Remove(serial string) {
	s.mu.Lock()
	delete(s.devices, serial)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == serial })
	s.dropForwardsLocked(serial)
	s.mu.Unlock()
	s.notify()
}

// Forwards returns the local ports forwarded to serial.
func (s *Server) Forwards(serial string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ports []int
	for p, f := range s.forwards {
		if f.serial == serial {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return ports
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Close stops the server, its forwards and its connections.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for p, f := range s.forwards {
		f.ln.Close()
		delete(s.forwards, p)
	}
	for c := range s.trackers {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) dropForwardsLocked(serial string) {
	for p, f := range s.forwards {
		if f.serial == serial {
			f.ln.Close()
			delete(s.forwards, p)
		}
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(c)
		}()
	}
}

func okay(w io.Writer, payload string) {
	fmt.Fprintf(w, "OKAY%04x%s", len(payload), payload)
}

func fail(w io.Writer, msg string) {
	fmt.Fprintf(w, "FAIL%04x%s", len(msg), msg)
}

func (s *Server) listLocked(long bool) string {
	var b strings.Builder
	for i, serial := range s.order {
		d := s.devices[serial]
		if long {
			fmt.Fprintf(&b, "%-22s %s product:fakeprod model:FakePhone device:fakedev transport_id:%d\n", serial, d.state, i+1)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", serial, d.state)
		}
	}
	return b.String()
}

// lookup returns the device for a service request, or the server's FAIL text.
func (s *Server) lookup(serial string) (*device, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[serial]
	switch {
	case !ok:
		return nil, fmt.Sprintf("device '%s' not found", serial)
	case d.state == "unauthorized":
		return nil, "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set\nTry 'adb kill-server' if that seems wrong.\nOtherwise check for a confirmation dialog on your device."
	case d.state != "device":
		return nil, "device offline"
	}
	return d, ""
}

func (s *Server) handle(c net.Conn) {
	r := bufio.NewReader(c)
	req, err := adbwire.ReadHex4(r)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	switch {
	case req == "host:version":
		okay(c, "0029")
	case req == "host:devices-l" || req == "host:devices":
		s.mu.Lock()
		l := s.listLocked(req == "host:devices-l")
		s.mu.Unlock()
		okay(c, l)
	case req == "host:track-devices":
		s.track(c, r)
	case req == "host:list-forward":
		s.mu.Lock()
		var b strings.Builder
		for p, f := range s.forwards {
			fmt.Fprintf(&b, "%s tcp:%d tcp:%d\n", f.serial, p, f.remote)
		}
		s.mu.Unlock()
		okay(c, b.String())
	case strings.HasPrefix(req, "host:transport:"):
		d, msg := s.lookup(strings.TrimPrefix(req, "host:transport:"))
		if d == nil {
			fail(c, msg)
			return
		}
		io.WriteString(c, "OKAY")
		s.service(c, r, d)
	case strings.HasPrefix(req, "host-serial:"):
		s.hostSerial(c, strings.TrimPrefix(req, "host-serial:"))
	default:
		fail(c, "unknown host service")
	}
}

// hostSerial answers host-serial:<serial>:<cmd>. Serials may hold ':', so
// the command is found by its known names.
func (s *Server) hostSerial(c net.Conn, rest string) {
	var serial, cmd string
	for _, name := range []string{":features", ":get-state", ":forward:", ":killforward:", ":list-forward"} {
		if i := strings.LastIndex(rest, name); i >= 0 {
			serial, cmd = rest[:i], rest[i+1:]
			break
		}
	}
	if cmd == "get-state" {
		s.mu.Lock()
		d, ok := s.devices[serial]
		s.mu.Unlock()
		if !ok {
			fail(c, fmt.Sprintf("device '%s' not found", serial))
			return
		}
		okay(c, d.state)
		return
	}
	d, msg := s.lookup(serial)
	if d == nil {
		fail(c, msg)
		return
	}
	switch {
	case cmd == "features":
		okay(c, strings.Join(d.features, ","))
	case strings.HasPrefix(cmd, "forward:"):
		spec := strings.TrimPrefix(strings.TrimPrefix(cmd, "forward:"), "norebind:")
		local, remote, _ := strings.Cut(spec, ";")
		lp, err1 := strconv.Atoi(strings.TrimPrefix(local, "tcp:"))
		rp, err2 := strconv.Atoi(strings.TrimPrefix(remote, "tcp:"))
		if err1 != nil || err2 != nil {
			fail(c, "bad forward spec")
			return
		}
		port, err := s.addForward(serial, lp, rp, d.phone)
		if err != nil {
			fail(c, "cannot bind listener: "+err.Error())
			return
		}
		io.WriteString(c, "OKAY")
		okay(c, strconv.Itoa(port))
	case strings.HasPrefix(cmd, "killforward:"):
		lp, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(cmd, "killforward:"), "tcp:"))
		s.mu.Lock()
		f, ok := s.forwards[lp]
		if ok {
			f.ln.Close()
			delete(s.forwards, lp)
		}
		s.mu.Unlock()
		if !ok {
			fail(c, fmt.Sprintf("listener 'tcp:%d' not found", lp))
			return
		}
		io.WriteString(c, "OKAYOKAY")
	default:
		fail(c, "unknown host service")
	}
}

func (s *Server) addForward(serial string, local, remote int, p Phone) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.forwards[local]; ok {
		f.ln.Close()
		delete(s.forwards, local)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", local))
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s.forwards[port] = &forward{serial: serial, remote: remote, ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				dc, err := p.DialTCP(remote)
				if err != nil {
					return
				}
				defer dc.Close()
				pipe(c, dc)
			}()
		}
	}()
	return port, nil
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
	<-done
}

// service answers the one device service of a transport connection.
func (s *Server) service(c net.Conn, r *bufio.Reader, d *device) {
	svc, err := adbwire.ReadHex4(r)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, svc)
	s.mu.Unlock()
	switch {
	case strings.HasPrefix(svc, "shell,v2,"):
		_, cmd, _ := strings.Cut(svc, ":")
		io.WriteString(c, "OKAY")
		c.Write(runV2(d.phone, cmd))
	case strings.HasPrefix(svc, "shell:"):
		io.WriteString(c, "OKAY")
		c.Write(runPlain(d.phone, strings.TrimPrefix(svc, "shell:")))
	case strings.HasPrefix(svc, "exec:"):
		io.WriteString(c, "OKAY")
		c.Write(runPlain(d.phone, strings.TrimPrefix(svc, "exec:")))
	case strings.HasPrefix(svc, "tcp:"):
		port, _ := strconv.Atoi(strings.TrimPrefix(svc, "tcp:"))
		dc, err := d.phone.DialTCP(port)
		if err != nil {
			fail(c, "closed")
			return
		}
		defer dc.Close()
		io.WriteString(c, "OKAY")
		pipe(&bufConn{Conn: c, r: r}, dc)
	default:
		fail(c, "closed")
	}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// track streams the device list until the client goes away.
func (s *Server) track(c net.Conn, r *bufio.Reader) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.trackers[c] = true
	l := s.listLocked(false)
	s.mu.Unlock()
	okay(c, l)
	_, _ = io.Copy(io.Discard, r)
	s.mu.Lock()
	delete(s.trackers, c)
	s.mu.Unlock()
}

// notify sends the new device list to every tracker.
func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listLocked(false)
	for c := range s.trackers {
		fmt.Fprintf(c, "%04x%s", len(l), l)
	}
}
