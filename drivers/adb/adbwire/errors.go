package adbwire

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers test with errors.Is. A *ServerError from the adb
// server wraps the one that matches its message.
var (
	// ErrNoServer: nothing answers at the server address.
	ErrNoServer = errors.New("adb server not reachable")
	// ErrUnauthorized: the phone has not accepted this server's key.
	ErrUnauthorized = errors.New("device unauthorized")
	// ErrOffline: the device is listed but not online.
	ErrOffline = errors.New("device offline")
	// ErrDeviceNotFound: no device with the requested serial.
	ErrDeviceNotFound = errors.New("device not found")
	// ErrProtocol: the server or device sent something this client does not understand.
	ErrProtocol = errors.New("adb protocol error")
	// ErrAfterRequestSent marks a failure that came after a device service
	// request (shell:, exec:, tcp:) was written in full to the server, other
	// than the server's explicit FAIL: the device may have started the
	// service, so a command may have had its effects.
	ErrAfterRequestSent = errors.New("after the request was sent")
)

// afterSent marks err as having happened after the service request was sent.
func afterSent(err error) error {
	if err == nil || errors.Is(err, ErrAfterRequestSent) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ErrAfterRequestSent)
}

// ServerError is a FAIL reply of the adb server (or of the device service
// behind it), with the server's message.
type ServerError struct {
	// Request is the request that failed, e.g. "host:transport:R58M". For
	// a device command it is the command's label (see StartLabeled), never
	// a redacted command line.
	Request string
	// Message is the server's text after FAIL.
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("adb %s: %s", e.Request, strings.TrimSpace(e.Message))
}

// Unwrap maps the server's message to a sentinel, or nil.
func (e *ServerError) Unwrap() error {
	m := strings.ToLower(e.Message)
	switch {
	case strings.Contains(m, "unauthorized"):
		return ErrUnauthorized
	case strings.Contains(m, "offline"):
		return ErrOffline
	case strings.Contains(m, "not found"), strings.Contains(m, "no devices"):
		return ErrDeviceNotFound
	}
	return nil
}

// ExitError reports a device command that ended with a non-zero status.
type ExitError struct {
	// Command is the command's label: the command line unless it was
	// started with StartLabeled.
	Command string
	Code    int
	// Output is the command's combined output, trimmed to a few hundred bytes.
	Output string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("device command %q exited with status %d", e.Command, e.Code)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

// clip shortens s for inclusion in an error.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
