package adbwire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// maxOutput bounds what one command may print; more is a protocol error.
const maxOutput = 8 << 20

// Device is a handle on one device, chosen by serial (an empty serial
// means the only device attached, as adb does without -s). It is safe for
// concurrent use. It remembers whether the device speaks shell v2 once it
// has asked; Forget clears that after a reconnect.
type Device struct {
	c      *Client
	Serial string

	mu      sync.Mutex
	shellV2 *bool
}

// Forget drops what the handle learned about the device (its features).
func (d *Device) Forget() {
	d.mu.Lock()
	d.shellV2 = nil
	d.mu.Unlock()
}

// prefix is the host request prefix for the device: by serial, or with
// an empty serial the only device attached.
func (d *Device) prefix() string {
	if d.Serial == "" {
		return "host:"
	}
	return "host-serial:" + d.Serial + ":"
}

// transport is the request that binds a connection to the device.
func (d *Device) transport() string {
	if d.Serial == "" {
		return "host:transport-any"
	}
	return "host:transport:" + d.Serial
}

// State returns the device's state as the server names it ("device",
// "offline", "unauthorized", …).
func (d *Device) State(ctx context.Context) (string, error) {
	return d.c.hostString(ctx, d.prefix()+"get-state")
}

// Features lists the features the device advertised.
func (d *Device) Features(ctx context.Context) ([]string, error) {
	s, err := d.c.hostString(ctx, d.prefix()+"features")
	if err != nil {
		return nil, err
	}
	var out []string
	for f := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out, nil
}

// Forward makes the server listen on local (e.g. "tcp:0" or "tcp:18080")
// and connect each accepted connection to remote on the device (e.g.
// "tcp:8080"). It returns the local port chosen, which matters for tcp:0.
// Forwards belong to the device's transport: they vanish when it
// disconnects and must be made again.
func (d *Device) Forward(ctx context.Context, local, remote string) (int, error) {
	req := d.prefix() + "forward:" + local + ";" + remote
	cn, err := d.c.host(ctx, req)
	if err != nil {
		return 0, err
	}
	defer cn.Close()
	// A second status follows once the listener is installed.
	if err := cn.status(req); err != nil {
		return 0, err
	}
	s, err := cn.hex4()
	if err != nil || s == "" {
		// Servers before 29 send no port string for a fixed port.
		return portOf(local)
	}
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("%w: forward port %q", ErrProtocol, s)
	}
	return p, nil
}

func portOf(spec string) (int, error) {
	p, err := strconv.Atoi(strings.TrimPrefix(spec, "tcp:"))
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("%w: no port chosen for %q", ErrProtocol, spec)
	}
	return p, nil
}

// KillForward removes the forward listening on local.
func (d *Device) KillForward(ctx context.Context, local string) error {
	req := d.prefix() + "killforward:" + local
	cn, err := d.c.host(ctx, req)
	if err != nil {
		return err
	}
	defer cn.Close()
	return cn.status(req)
}

// open switches a new connection to the device and starts service on it.
// label names the service in errors, which never carry service itself (it
// may hold a command line with private data).
//
// A failure before service was written in full means the device never saw
// it. Once it was written, any failure other than the server's explicit
// FAIL (a *ServerError) is marked with ErrAfterRequestSent: the device may
// have started the service even though its OKAY never reached us.
func (d *Device) open(ctx context.Context, service, label string) (*conn, error) {
	req := d.transport()
	cn, err := d.c.host(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := cn.send(service); err != nil {
		cn.Close()
		return nil, fmt.Errorf("adb %s: %w", label, err)
	}
	if err := cn.status(label); err != nil {
		cn.Close()
		var se *ServerError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, afterSent(err)
	}
	return cn, nil
}

// OpenTCP opens a stream to a TCP port on the device itself.
func (d *Device) OpenTCP(ctx context.Context, port int) (net.Conn, error) {
	svc := "tcp:" + strconv.Itoa(port)
	return d.open(ctx, svc, svc)
}

// Result is what a device command printed and how it ended.
type Result struct {
	Stdout []byte
	// Stderr is empty unless the command ran over shell v2; plain shell and
	// exec merge it into Stdout.
	Stderr   []byte
	ExitCode int
}

// Cmd is a device command that has been started: the device accepted the
// service, so from here on the command may have had effects.
type Cmd struct {
	cn     *conn
	label  string // names the command in errors
	mode   shellMode
	marker string
}

type shellMode int

const (
	modeV2 shellMode = iota
	modePlain
	modeExec
)

// Wait reads the command's output until it ends. A non-zero exit status is
// returned with the Result and an *ExitError. Any other error means the
// stream broke before the command's end was seen; it is marked with
// ErrAfterRequestSent, as the command was running.
func (c *Cmd) Wait() (Result, error) {
	defer c.cn.Close()
	var res Result
	switch c.mode {
	case modeV2:
		var out, errb limitedBuffer
		code, err := ReadShellV2(c.cn, &out, &errb)
		res = Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
		if err != nil {
			return res, afterSent(fmt.Errorf("adb shell %q: %w", c.label, err))
		}
	case modePlain, modeExec:
		b, err := io.ReadAll(io.LimitReader(c.cn, maxOutput+1))
		if err != nil {
			return Result{Stdout: b}, afterSent(fmt.Errorf("adb shell %q: %w", c.label, err))
		}
		if len(b) > maxOutput {
			return Result{}, afterSent(fmt.Errorf("%w: output of %q above %d bytes", ErrProtocol, c.label, maxOutput))
		}
		if c.mode == modeExec {
			return Result{Stdout: b}, nil
		}
		out, code, ok := SplitExitMarker(b, c.marker)
		if !ok {
			return Result{Stdout: out}, afterSent(fmt.Errorf("adb shell %q: the output ended before the exit status", c.label))
		}
		res = Result{Stdout: out, ExitCode: code}
	}
	if res.ExitCode != 0 {
		return res, &ExitError{Command: c.label, Code: res.ExitCode, Output: clip(string(res.Stdout) + string(res.Stderr))}
	}
	return res, nil
}

// limitedBuffer is a bytes.Buffer that refuses to grow beyond maxOutput.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxOutput {
		return 0, fmt.Errorf("%w: output above %d bytes", ErrProtocol, maxOutput)
	}
	return b.Buffer.Write(p)
}

// usesShellV2 asks the device's features once.
func (d *Device) usesShellV2(ctx context.Context) (bool, error) {
	d.mu.Lock()
	known := d.shellV2
	d.mu.Unlock()
	if known != nil {
		return *known, nil
	}
	fs, err := d.Features(ctx)
	if err != nil {
		return false, err
	}
	v2 := false
	for _, f := range fs {
		if f == "shell_v2" {
			v2 = true
		}
	}
	d.mu.Lock()
	d.shellV2 = &v2
	d.mu.Unlock()
	return v2, nil
}

// Start starts command in the device shell: over shell v2 when the device
// has the feature (real exit status, separate stderr), else over plain
// shell with an exit marker appended. A nil error means the device accepted
// the command. An error marked with ErrAfterRequestSent means the command
// reached the server and may have run; any other error means it did not.
// Errors name the command by its command line.
func (d *Device) Start(ctx context.Context, command string) (*Cmd, error) {
	return d.StartLabeled(ctx, command, command)
}

// StartLabeled is Start for a command line that must not appear in errors
// (it holds a phone number or a message): every error of the start and of
// the Cmd names the command by label instead.
func (d *Device) StartLabeled(ctx context.Context, command, label string) (*Cmd, error) {
	v2, err := d.usesShellV2(ctx)
	if err != nil {
		return nil, err
	}
	if v2 {
		return d.startV2(ctx, command, label)
	}
	return d.startPlain(ctx, command, label)
}

// StartV2 starts command over shell v2 without asking for the feature.
func (d *Device) StartV2(ctx context.Context, command string) (*Cmd, error) {
	return d.startV2(ctx, command, command)
}

func (d *Device) startV2(ctx context.Context, command, label string) (*Cmd, error) {
	cn, err := d.open(ctx, "shell,v2,raw:"+command, "shell,v2,raw:"+label)
	if err != nil {
		return nil, err
	}
	return &Cmd{cn: cn, label: label, mode: modeV2}, nil
}

// StartPlain starts command over plain shell, wrapped so that it prints an
// exit marker with its status last.
func (d *Device) StartPlain(ctx context.Context, command string) (*Cmd, error) {
	return d.startPlain(ctx, command, command)
}

func (d *Device) startPlain(ctx context.Context, command, label string) (*Cmd, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	marker := "__SMSGW_RC_" + hex.EncodeToString(b[:])
	cn, err := d.open(ctx, "shell:"+WrapExitMarker(command, marker), "shell:"+label)
	if err != nil {
		return nil, err
	}
	return &Cmd{cn: cn, label: label, mode: modePlain, marker: marker}, nil
}

// Shell runs command and waits for it (see Start and Cmd.Wait).
func (d *Device) Shell(ctx context.Context, command string) (Result, error) {
	cmd, err := d.Start(ctx, command)
	if err != nil {
		return Result{}, err
	}
	return cmd.Wait()
}

// Exec runs command over exec: (raw, binary-safe, no exit status) and
// returns everything it printed.
func (d *Device) Exec(ctx context.Context, command string) ([]byte, error) {
	cn, err := d.open(ctx, "exec:"+command, "exec:"+command)
	if err != nil {
		return nil, err
	}
	res, err := (&Cmd{cn: cn, label: command, mode: modeExec}).Wait()
	return res.Stdout, err
}

// WrapExitMarker wraps command so that, run by sh, it prints
// "\n<marker>:<status>\n" after its own output.
func WrapExitMarker(command, marker string) string {
	return "(" + command + "\n); smsgw_rc=$?; echo; echo " + marker + ":$smsgw_rc"
}

// SplitExitMarker finds the exit marker WrapExitMarker added at the end of
// out and returns the command's own output (CR LF turned into LF, as a
// terminal on old Android adds CRs) and its status.
func SplitExitMarker(out []byte, marker string) ([]byte, int, bool) {
	out = bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))
	i := bytes.LastIndex(out, []byte(marker+":"))
	if i < 0 || marker == "" {
		return out, 0, false
	}
	rest := strings.TrimSpace(string(out[i+len(marker)+1:]))
	code, err := strconv.Atoi(rest)
	if err != nil || code < 0 || code > 255 {
		return out[:i], 0, false
	}
	body := out[:i]
	// Drop the newline the wrapper's first echo printed.
	body = bytes.TrimSuffix(body, []byte("\n"))
	return body, code, true
}

// Quote quotes s for the device's POSIX shell, so that any text, including
// quotes, newlines and $, reaches the command as one argument.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
