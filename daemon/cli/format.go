package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"smsgw/daemon/client"
)

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// table returns a tabwriter for aligned columns; call Flush when done.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes cells as one tab-separated line, with "-" for empty cells.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// when formats a time for people; the zero time is "-".
func (a *app) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(a.loc).Format(time.DateTime)
}

// seconds formats a number of seconds as a duration such as 1h2m3s.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// printMessageLine prints a message as "ID STATE", with its last error
// when it failed.
func (a *app) printMessageLine(m *client.Message) {
	line := m.ID + " " + m.State
	if m.LastError != nil && (m.State == client.StateFailed || m.State == client.StateUnknown) {
		line += " (" + errorInfo(m.LastError) + ")"
	}
	fmt.Fprintln(a.stdout, line)
}

func errorInfo(e *client.ErrorInfo) string {
	if e == nil {
		return ""
	}
	s := e.Class + " " + e.Code
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (a *app) printMessageTable(msgs []client.Message) error {
	tw := table(a.stdout)
	row(tw, "ID", "STATE", "TO", "PURPOSE", "ATTEMPTS", "CREATED", "UPDATED")
	for _, m := range msgs {
		row(tw, m.ID, m.State, m.To, m.Purpose, attempts(&m), a.when(m.CreatedAt), a.when(m.UpdatedAt))
	}
	return tw.Flush()
}

func attempts(m *client.Message) string {
	if m.MaxAttempts == 0 {
		return fmt.Sprint(m.Attempts)
	}
	return fmt.Sprintf("%d/%d", m.Attempts, m.MaxAttempts)
}

// printMessageDetails prints one message and its event history.
func (a *app) printMessageDetails(m *client.Message) error {
	tw := table(a.stdout)
	driver := m.Driver
	if m.DriverRef != "" {
		driver += " (ref " + m.DriverRef + ")"
	}
	parts := ""
	if m.Parts > 0 {
		parts = fmt.Sprintf("%d %s", m.Parts, m.Encoding)
	}
	next := ""
	if m.NextAttemptAt != nil {
		next = a.when(*m.NextAttemptAt)
	}
	for _, kv := range [][2]string{
		{"ID", m.ID},
		{"State", m.State},
		{"To", m.To},
		{"Client", m.Client},
		{"Purpose", m.Purpose},
		{"Template", m.Template},
		{"Params", params(m.Params)},
		{"Attempts", attempts(m)},
		{"Parts", parts},
		{"Driver", driver},
		{"Last error", errorInfo(m.LastError)},
		{"Created", a.when(m.CreatedAt)},
		{"Updated", a.when(m.UpdatedAt)},
		{"Expires", a.when(m.ExpiresAt)},
		{"Next attempt", next},
	} {
		row(tw, kv[0]+":", kv[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	if len(m.Events) == 0 {
		fmt.Fprintln(a.stdout, "No events.")
		return nil
	}
	tw = table(a.stdout)
	row(tw, "SEQ", "AT", "FROM", "TO", "DRIVER", "REASON", "DETAIL")
	for _, e := range m.Events {
		row(tw, fmt.Sprint(e.Seq), a.when(e.At), e.From, e.To, e.Driver, e.Reason, e.Detail)
	}
	return tw.Flush()
}

// params formats template parameters as sorted key=value pairs.
func params(p map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + "=" + p[k])
	}
	return b.String()
}
