package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"smsgw/config"
	"smsgw/daemon/access"
	"smsgw/daemon/api"
	"smsgw/daemon/events"
	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
)

// listenerSet is the API's listeners: the Unix socket, from systemd
// socket activation when present, and the LAN listeners.
type listenerSet struct {
	unix      net.Listener
	activated bool
	lan       []net.Listener
	tls       *tls.Config
}

func (l *listenerSet) close() {
	// Serve closes the listeners it was given; closing again is harmless.
	if l.unix != nil {
		l.unix.Close()
	}
	for _, ln := range l.lan {
		ln.Close()
	}
}

// openListeners opens the Unix socket (or takes it from systemd) and every
// LAN listener, refusing public addresses before anything binds.
func openListeners(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *listenerSet, err error) {
	set := &listenerSet{}
	defer func() {
		if err != nil {
			set.close()
		}
	}()
	lan := cfg.API.LAN
	allow, err := access.ParseAllowList(lan.Allow)
	if err != nil {
		return nil, fmt.Errorf("api.lan.allow: %w", err)
	}
	for _, addr := range lan.Listen {
		if err := access.CheckListen(addr, access.InterfaceAddrs); err != nil {
			return nil, fmt.Errorf("api.lan.listen: %w", err)
		}
	}
	if lan.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(lan.TLS.CertFile, lan.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("api.lan.tls: %w", err)
		}
		set.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	for _, f := range activatedFiles() {
		// FileListener duplicates the descriptor: closing this run's
		// listener leaves systemd's socket open for the run after a reload.
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %s: %w", f.Name(), err)
		}
		if _, ok := ln.(*net.UnixListener); !ok || set.unix != nil {
			ln.Close()
			return nil, fmt.Errorf("systemd passed %s; smsgw takes one Unix socket (ListenStream=/run/smsgw/api.sock), and LAN addresses only from api.lan.listen", ln.Addr())
		}
		set.unix, set.activated = ln, true
	}
	if set.unix == nil {
		mode, err := cfg.API.SocketFileMode()
		if err != nil {
			return nil, fmt.Errorf("api.socket_mode: %w", err)
		}
		gid, err := lookupGroup(cfg.API.SocketGroup)
		if err != nil {
			return nil, err
		}
		if set.unix, err = api.ListenUnixGroup(cfg.API.Socket, mode, gid); err != nil {
			return nil, err
		}
	}
	for _, addr := range lan.Listen {
		ln, err := api.ListenLAN(ctx, addr, api.LANOptions{
			Allow: allow, MaxConns: lan.MaxConns, Log: log.With(slog.String("component", "lan")),
		})
		if err != nil {
			return nil, err
		}
		set.lan = append(set.lan, ln)
	}
	return set, nil
}

// lookupGroup returns the gid of a group name or number; -1 for "".
func lookupGroup(name string) (int, error) {
	if name == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("api.socket_group: %w", err)
	}
	return strconv.Atoi(g.Gid)
}

// webhookTargets reads each client's webhook secret.
func webhookTargets(cfg *config.Config) ([]events.Target, error) {
	var out []events.Target
	for _, c := range cfg.Clients {
		wh := c.Webhook
		if wh.URL == "" {
			continue
		}
		b, err := os.ReadFile(wh.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("clients %s webhook.secret_file: %w", c.Name, err)
		}
		secret := []byte(strings.TrimSpace(string(b)))
		if len(secret) < 16 {
			return nil, fmt.Errorf("clients %s webhook.secret_file: the secret must be at least 16 bytes", c.Name)
		}
		out = append(out, events.Target{
			Client: c.Name, Admin: c.Admin, URL: wh.URL, Secret: secret, MaxAttempts: wh.MaxAttempts,
			Initial: wh.Backoff.Initial.Duration, Max: wh.Backoff.Max.Duration, Timeout: wh.Timeout.Duration,
		})
	}
	return out, nil
}

// deviceState is one device's state as the event feed records it.
type deviceState struct{ name, state, detail string }

// deviceStates reads the queue's device states.
func deviceStates(q *queue.Queue) func() []deviceState {
	return func() []deviceState {
		var out []deviceState
		for _, d := range q.Devices() {
			state := string(d.Health.State)
			if state == "" {
				state = string(drivers.StateReady)
			}
			out = append(out, deviceState{d.Name, state, d.Health.Detail})
		}
		return out
	}
}

// watchDevices records every device state change in the event feed, so
// that the event stream and webhooks carry device alerts.
func watchDevices(ctx context.Context, states func() []deviceState, st *store.Store, log *slog.Logger) {
	last := map[string]string{}
	for _, d := range states() {
		last[d.name] = d.state
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, d := range states() {
			if last[d.name] == d.state {
				continue
			}
			if err := st.AppendDevice(ctx, d.name, d.state, d.detail); err != nil {
				if !errors.Is(err, context.Canceled) {
					log.Warn("recording a device change", slog.String("driver", d.name), slog.Any("err", err))
				}
				continue
			}
			last[d.name] = d.state
		}
	}
}

// activatedFiles returns the sockets systemd passed to this process. They
// are taken once per process (the environment that names them is then
// cleared) and kept open, so that every run after a reload listens on them.
var activatedFiles = sync.OnceValue(func() []*os.File { return activation.Files(true) })
