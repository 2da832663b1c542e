package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/drivers"
)

// outboxLine is one line of the outbox file.
type outboxLine struct {
	At    time.Time `json:"at"`
	ID    string    `json:"id"`
	Ref   string    `json:"ref"`
	To    string    `json:"to"`
	Parts int       `json:"parts"`
	Text  string    `json:"text,omitempty"`
}

// openOutbox opens path for appending, creating it and its directory.
func openOutbox(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	return f, nil
}

// writeOutbox appends r as one JSON line. Text is empty unless the driver
// keeps it (Options.OutboxText).
func writeOutbox(f *os.File, r *Record) error {
	b, err := json.Marshal(outboxLine{At: r.At, ID: r.ID, Ref: r.Ref, To: r.To, Parts: r.Parts, Text: r.Text})
	if err != nil {
		return fmt.Errorf("encode outbox line: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append outbox line: %w", err)
	}
	return nil
}

// readOutbox reads the lines an earlier run wrote. A missing file is empty;
// a malformed line (a torn last write) is skipped.
func readOutbox(path string) ([]outboxLine, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer f.Close()
	var out []outboxLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l outboxLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Ref != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// restore remembers a message an earlier run sent. Its delivery outcome was
// not logged, so it stays "sent".
func (d *Driver) restore(l outboxLine) {
	r := &Record{ID: l.ID, Ref: l.Ref, To: l.To, Parts: l.Parts, At: l.At, State: drivers.SendSent}
	d.records = append(d.records, r)
	if l.ID != "" {
		d.byID[l.ID] = r
	}
	d.byRef[l.Ref] = r
	if n, err := strconv.Atoi(strings.TrimPrefix(l.Ref, "sim-")); err == nil && n > d.seq {
		d.seq = n
	}
}

// createdBefore reports whether id is a message id minted before t.
func createdBefore(id string, t time.Time) bool {
	u, err := ulid.ParseStrict(id)
	return err == nil && ulid.Time(u.Time()).Before(t.Truncate(time.Millisecond))
}
