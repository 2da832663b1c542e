package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"smsgw/daemon/client"
)

func (a *app) sendCmd() *cobra.Command {
	var (
		req     client.SubmitRequest
		params  []string
		ttl     time.Duration
		key     string
		wait    bool
		waitFor string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "send --to NUMBER --purpose PURPOSE [--param NAME=VALUE]...",
		Short: "Submit a message and print its id and state",
		Example: "  smsgw send --to +33612345678 --purpose otp --param code=123456\n" +
			"  smsgw send --to +33612345678 --purpose otp --param code=123456 --wait",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if req.To == "" || req.Purpose == "" {
				return usageErrorf("send needs --to and --purpose")
			}
			if err := checkWaitState(waitFor); err != nil {
				return err
			}
			var err error
			if req.Params, err = parseParams(params); err != nil {
				return err
			}
			if cmd.Flags().Changed("ttl") {
				req.TTL = ttl.String()
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			m, replayed, err := c.Submit(cmd.Context(), req, key)
			if err != nil {
				return err
			}
			if replayed {
				fmt.Fprintf(a.stderr, "note: the idempotency key %q was used before; this is the message it created\n", key)
			}
			if !wait && !cmd.Flags().Changed("wait-for") {
				if a.json {
					return a.printJSON(m)
				}
				a.printMessageLine(m)
				return nil
			}
			if !a.json {
				a.printMessageLine(m)
			}
			return a.await(cmd.Context(), c, m.ID, waitFor, timeout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.To, "to", "", "recipient in E.164 form, e.g. +33612345678")
	f.StringVar(&req.Purpose, "purpose", "", "configured purpose, e.g. otp")
	f.StringVar(&req.Template, "template", "", "template to use (default: the purpose's)")
	f.StringArrayVar(&params, "param", nil, "template parameter `NAME=VALUE` (repeatable)")
	f.StringVar(&req.Text, "text", "", "free text instead of a template, for purposes with allow_free_text")
	f.DurationVar(&ttl, "ttl", 0, "validity, shorter than the purpose's (e.g. 2m)")
	f.StringVar(&key, "idempotency-key", "", "key that makes retrying this command safe")
	f.BoolVar(&wait, "wait", false, "wait until the message reaches --wait-for or a final state")
	f.StringVar(&waitFor, "wait-for", client.StateDelivered, "state to wait for (implies --wait)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait; 0 waits forever")
	return cmd
}

func parseParams(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	p := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--param %q: use NAME=VALUE", kv)
		}
		p[k] = v
	}
	return p, nil
}

// happyPath orders the states a message passes through when all goes well.
var happyPath = []string{client.StateQueued, client.StateSending, client.StateSent, client.StateDelivered}

// allStates lists every message state.
var allStates = append(slices.Clone(happyPath), client.StateFailed, client.StateExpired, client.StateCancelled, client.StateUnknown)

func checkWaitState(s string) error {
	if !slices.Contains(allStates, s) {
		return usageErrorf("cannot wait for %q: states are %s", s, strings.Join(allStates, ", "))
	}
	return nil
}

// reached reports whether a message in state has got as far as target:
// the same state, or a later one on the happy path.
func reached(target, state string) bool {
	if state == target {
		return true
	}
	t, s := slices.Index(happyPath, target), slices.Index(happyPath, state)
	return t >= 0 && s >= t
}

// await waits for message id to reach target or a final state, prints it,
// and fails when it ended elsewhere. A message in unknown stops the wait:
// it is held for review.
func (a *app) await(ctx context.Context, c *client.Client, id, target string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	m, err := c.Wait(ctx, id, target, client.StateUnknown)
	if err != nil {
		if m != nil {
			if err := a.printFinal(m); err != nil {
				return err
			}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("gave up after %s waiting for %s: %w", timeout, target, err)
		}
		return err
	}
	if err := a.printFinal(m); err != nil {
		return err
	}
	if !reached(target, m.State) {
		return &exitCodeError{code: exitError, msg: fmt.Sprintf("message %s ended %s, not %s", m.ID, m.State, target)}
	}
	return nil
}

func (a *app) printFinal(m *client.Message) error {
	if a.json {
		return a.printJSON(m)
	}
	a.printMessageLine(m)
	return nil
}
