package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// OptOuts returns the opt-out list; numbers are masked.
func (c *Client) OptOuts(ctx context.Context) (*OptOutList, error) {
	var l OptOutList
	if _, err := c.do(ctx, http.MethodGet, "/v1/optouts", nil, nil, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// AddOptOut puts recipient on the opt-out list. changed is false when it
// already was.
func (c *Client) AddOptOut(ctx context.Context, recipient string) (changed bool, err error) {
	return c.change(ctx, http.MethodPost, "/v1/optouts", nil, RecipientRequest{Recipient: recipient})
}

// RemoveOptOut takes recipient off the opt-out list.
func (c *Client) RemoveOptOut(ctx context.Context, recipient string) (changed bool, err error) {
	return c.change(ctx, http.MethodDelete, "/v1/optouts", url.Values{"recipient": {recipient}}, nil)
}

// Consents returns the consents, of one recipient when it is not empty.
func (c *Client) Consents(ctx context.Context, recipient string) (*ConsentList, error) {
	var q url.Values
	if recipient != "" {
		q = url.Values{"recipient": {recipient}}
	}
	var l ConsentList
	if _, err := c.do(ctx, http.MethodGet, "/v1/consents", q, nil, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// AddConsent records a recipient's consent to a purpose.
func (c *Client) AddConsent(ctx context.Context, req ConsentRequest) (changed bool, err error) {
	return c.change(ctx, http.MethodPost, "/v1/consents", nil, req)
}

// RemoveConsent withdraws a recipient's consent to a purpose.
func (c *Client) RemoveConsent(ctx context.Context, recipient, purpose string) (changed bool, err error) {
	return c.change(ctx, http.MethodDelete, "/v1/consents", url.Values{"recipient": {recipient}, "purpose": {purpose}}, nil)
}

// Journal returns the newest journal entries at or after since (zero: all),
// at most limit (0: the daemon's default).
func (c *Client) Journal(ctx context.Context, since time.Time, limit int) (*Journal, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var j Journal
	if _, err := c.do(ctx, http.MethodGet, "/v1/journal", q, nil, nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

func (c *Client) change(ctx context.Context, method, path string, q url.Values, body any) (bool, error) {
	var (
		h   http.Header
		raw []byte
	)
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return false, fmt.Errorf("encoding request: %w", err)
		}
		h = http.Header{"Content-Type": {"application/json"}}
	}
	var ch Change
	if _, err := c.do(ctx, method, path, q, h, raw, &ch); err != nil {
		return false, err
	}
	return ch.Changed, nil
}
