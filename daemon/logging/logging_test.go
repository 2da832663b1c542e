package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewFormat(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	t.Setenv("INVOCATION_ID", "")
	tests := []struct {
		format   string
		wantJSON bool
	}{
		{"json", true},
		{"JSON", true},
		{"text", false},
		// A buffer is not a terminal, so auto picks JSON.
		{"auto", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, "info", tt.format)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			log.Info("hello", "k", "v")
			var rec map[string]any
			isJSON := json.Unmarshal(buf.Bytes(), &rec) == nil
			if isJSON != tt.wantJSON {
				t.Fatalf("format %q: JSON output = %v, want %v; output %q", tt.format, isJSON, tt.wantJSON, buf.String())
			}
			if !strings.Contains(buf.String(), "hello") {
				t.Errorf("output %q lacks the message", buf.String())
			}
		})
	}
}

func TestNewLevel(t *testing.T) {
	tests := []struct {
		level     string
		wantDebug bool
		wantInfo  bool
		wantWarn  bool
	}{
		{"debug", true, true, true},
		{"", false, true, true},
		{"info", false, true, true},
		{"WARN", false, false, true},
		{"error", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, tt.level, "text")
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			log.Debug("d-msg")
			log.Info("i-msg")
			log.Warn("w-msg")
			out := buf.String()
			for msg, want := range map[string]bool{"d-msg": tt.wantDebug, "i-msg": tt.wantInfo, "w-msg": tt.wantWarn} {
				if got := strings.Contains(out, msg); got != want {
					t.Errorf("level %q: %s logged = %v, want %v", tt.level, msg, got, want)
				}
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct{ level, format string }{
		{"loud", "text"},
		{"info", "xml"},
	}
	for _, tt := range tests {
		if _, err := New(&bytes.Buffer{}, tt.level, tt.format); err == nil {
			t.Errorf("New(%q, %q) succeeded, want an error", tt.level, tt.format)
		}
	}
}

func TestUnderSystemd(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"plain shell", map[string]string{}, false},
		{"journal stream", map[string]string{"JOURNAL_STREAM": "8:12345"}, true},
		{"invocation id", map[string]string{"INVOCATION_ID": "abc"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := underSystemd(getenv); got != tt.want {
				t.Errorf("underSystemd = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAutoUnderSystemdIsJSON(t *testing.T) {
	t.Setenv("INVOCATION_ID", "0123")
	var buf bytes.Buffer
	log, err := New(&buf, "info", "auto")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started")
	if !json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Errorf("auto under systemd wrote %q, want JSON", buf.String())
	}
}

func TestIsTerminalRegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file reported as a terminal")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer reported as a terminal")
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+33612345678", "+336******78"},
		{"+447700900123", "+447*******23"},
		{"0612345678", "0612****78"},
		{"+32471234", "*********"},
		{"12", "**"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoggerNeverPrintsFullNumber(t *testing.T) {
	const number = "+33612345678"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, "debug", format)
			if err != nil {
				t.Fatal(err)
			}
			p := Phone(number)
			log.Info("sending", "to", p)
			log.Debug("grouped", slog.Group("msg", "to", p))
			log.With("to", p).Warn("with")
			log.Info("any", slog.Any("to", p))
			log.Info("formatted", "text", "to "+p.String())
			out := buf.String()
			if strings.Contains(out, number) || strings.Contains(out, "12345678") {
				t.Fatalf("log output carries the full number:\n%s", out)
			}
			if got := strings.Count(out, "+336******78"); got != 5 {
				t.Errorf("masked number appears %d times, want 5:\n%s", got, out)
			}
		})
	}
}
