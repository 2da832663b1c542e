package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"smsgw/config"
	"smsgw/daemon/client"
	"smsgw/daemon/events"
	"smsgw/daemon/store"
)

// openStore opens an in-memory store for the event tests.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// createFor stores a queued message of clientName.
func createFor(t *testing.T, st *store.Store, clientName string) {
	t.Helper()
	now := time.Now()
	m := &store.Message{
		ID: ulid.Make().String(), Client: clientName, To: "+33612345678", Purpose: "otp",
		Template: "otp_code", State: store.Queued, MaxAttempts: 5,
		CreatedAt: now, UpdatedAt: now, DueAt: now, ExpiresAt: now.Add(time.Minute),
	}
	if err := st.Create(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
}

// serveEvents serves st's feed on 127.0.0.1 for the LAN clients shop and
// clinic and on a Unix socket for an admin with our uid.
func serveEvents(t *testing.T, st *store.Store) (lanBase, sock string) {
	t.Helper()
	clients := []config.Client{
		{Name: "shop", TokenSHA256: shopDigest, Purposes: []string{"otp"}},
		{Name: "clinic", TokenSHA256: clinicDigest, Purposes: []string{"otp"}},
		{Name: "ops", UnixUIDs: []int{os.Getuid()}, Admin: true},
	}
	srv := New(Options{
		Backend: newFakeBackend(testNow), Policy: accessPolicy(clients), Clients: clients, Events: st,
		Config: config.API{MaxBodyBytes: 4096, WriteTimeout: config.Duration{Duration: time.Second}},
	})
	ctx, cancel := context.WithCancel(t.Context())
	ln, err := ListenLAN(ctx, "127.0.0.1:0", LANOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "smsgw-ev")
	if err != nil {
		t.Fatal(err)
	}
	sock = dir + "/api.sock"
	uln, err := ListenUnix(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- srv.ServeLAN(ctx, ln, nil) }()
	go func() { done <- srv.Serve(ctx, uln) }()
	t.Cleanup(func() {
		cancel() // also ends open streams: Serve returns within its grace
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
		os.RemoveAll(dir)
	})
	return "http://" + ln.Addr().String(), sock
}

var errEnough = errors.New("enough events")

// collect follows the stream from lastID until it has n events.
func collect(t *testing.T, c *client.Client, lastID string, n int) []client.FeedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // hang guard
	defer cancel()
	var got []client.FeedEvent
	err := c.Events(ctx, lastID, func(e client.FeedEvent) error {
		got = append(got, e)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("stream ended after %d of %d events: %v", len(got), n, err)
	}
	return got
}

func TestEventStreamResumesWithLastEventID(t *testing.T) {
	st := openStore(t)
	base, _ := serveEvents(t, st)
	shop := client.NewHTTP(base, shopToken)
	start := st.FeedHead()

	round := func() {
		createFor(t, st, "shop")
		createFor(t, st, "clinic")
		if err := st.AppendDevice(t.Context(), "sim", "degraded", "low battery"); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		round()
	}
	first := collect(t, shop, client.EventID(start), 4)
	// Disconnected: more happens meanwhile.
	for range 5 {
		round()
	}
	last := first[len(first)-1].ID
	second := collect(t, shop, client.EventID(last), 16)

	all, err := st.Feed(t.Context(), start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range all {
		if events.Visible(e, "shop", false) {
			want = append(want, e.Seq)
		}
	}
	var got []uint64
	for _, e := range slices.Concat(first, second) {
		got = append(got, e.ID)
		if e.Kind == client.EventMessageStatus && e.Client != "shop" {
			t.Errorf("shop received %s's event %d", e.Client, e.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("events across the reconnection = %v\nwant %v", got, want)
	}
}

func TestEventStreamRefusesBadLastEventID(t *testing.T) {
	st := openStore(t)
	_, sock := serveEvents(t, st)
	c := client.NewUnix(sock)
	err := c.Events(t.Context(), "12abc", func(client.FeedEvent) error { return nil })
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Code != codeLastEventIDInvalid {
		t.Fatalf("Events with a bad id: %v", err)
	}
}
