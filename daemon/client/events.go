package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// maxEventLine bounds one line of the event stream.
const maxEventLine = 256 << 10

// Events follows the daemon's event stream (GET /v1/events) and calls fn
// with each event, in order, until ctx ends, fn returns an error, or the
// stream ends; it returns that error, or nil when the daemon closed the
// stream. lastEventID resumes after an event's id ("0" replays the whole
// retained feed, "" starts with what happens next). To follow the stream
// across disconnections, call Events again with the ID of the last event
// fn received: nothing is missed in between.
func (c *Client) Events(ctx context.Context, lastEventID string, fn func(FeedEvent) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/v1/events", nil)
	if err != nil {
		return fmt.Errorf("GET /v1/events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream, application/problem+json")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if c.socket != "" && ctx.Err() == nil && isNotListening(err) {
			return &NotRunningError{Socket: c.socket, Err: err}
		}
		return fmt.Errorf("GET /v1/events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProblem(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() == 0 {
				continue
			}
			var ev FeedEvent
			if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
				return fmt.Errorf("GET /v1/events: decoding an event: %w", err)
			}
			data.Reset()
			if err := fn(ev); err != nil {
				return err
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "data:"); ok {
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(v, " "))
		}
		// id, event, retry and comments: the data carries the id and kind.
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("GET /v1/events: %w", err)
	}
	return ctx.Err()
}

// EventID formats an event id for Events' lastEventID.
func EventID(id uint64) string { return strconv.FormatUint(id, 10) }
