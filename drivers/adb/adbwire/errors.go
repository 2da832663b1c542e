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
)

// ServerError is a FAIL reply of the adb server (or of the device service
// behind it), with the server's message.
type ServerError struct {
	// Request is the request that failed, e.g. "host:transport:R58M".
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
