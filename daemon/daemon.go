// Package daemon wires the store, policy, dispatcher and API together and
// runs them until its context ends, then shuts them down in order: stop
// accepting requests, let sends in flight finish, close the drivers, close
// the store.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"smsgw/config"
	"smsgw/daemon/api"
	"smsgw/daemon/client"
	"smsgw/daemon/events"
	"smsgw/daemon/policy"
	"smsgw/daemon/queue"
	"smsgw/daemon/store"
	"smsgw/drivers"
	"smsgw/drivers/builtin"
)

// Version is reported by the health endpoint; the CLI sets it.
var Version = "dev"

// Hooks are callbacks for a service manager.
type Hooks struct {
	// Ready is called once the API accepts requests.
	Ready func()
	// Stopping is called when shutdown begins.
	Stopping func()
}

// Run runs the daemon with cfg until ctx is cancelled.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return RunWithHooks(ctx, cfg, log, Hooks{})
}

// RunWithHooks is Run with callbacks for the service manager.
func RunWithHooks(ctx context.Context, cfg *config.Config, log *slog.Logger, hooks Hooks) (err error) {
	started := time.Now()
	encKey, err := store.ReadEncryptionKey(cfg.Store.EncryptionKeyFile)
	if err != nil {
		return err
	}
	st, err := store.Open(store.Options{
		Dir:            cfg.Store.Dir,
		Retention:      cfg.Store.Retention.Duration,
		IdempotencyTTL: cfg.API.IdempotencyTTL.Duration,
		EncryptionKey:  encKey,
		Log:            log.With(slog.String("component", "store")),
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	devices, closeDrivers, err := openDevices(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDrivers()

	pol := policy.New(cfg)
	q, err := queue.New(queue.Options{
		Store:          st,
		Devices:        devices,
		Routes:         routes(cfg),
		Render:         renderer(cfg),
		MaxAttempts:    cfg.Queue.MaxAttempts,
		BackoffInitial: cfg.Queue.Backoff.Initial.Duration,
		BackoffMax:     cfg.Queue.Backoff.Max.Duration,
		RetryUncertain: cfg.Queue.OnUncertain == "retry",
		SendTimeout:    cfg.Queue.SendTimeout.Duration,
		HealthInterval: cfg.Health.Interval.Duration,
		Numbers:        pol.Numbers(),
		Reply:          pol.Reply,
		Log:            log.With(slog.String("component", "queue")),
	})
	if err != nil {
		return err
	}
	if err := q.Recover(ctx); err != nil {
		return err
	}

	listeners, err := openListeners(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer listeners.close()
	targets, err := webhookTargets(cfg)
	if err != nil {
		return err
	}
	srv := api.New(api.Options{
		Backend: backend{Queue: q, started: started},
		Lists:   q,
		Events:  st,
		Policy:  pol,
		Config:  cfg.API,
		Clients: cfg.Clients,
		Log:     log.With(slog.String("component", "api")),
	})

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 3+len(listeners.lan)+len(targets))
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- err
			}
		}()
	}
	run(func() error { return q.Run(runCtx) })
	run(func() error { st.RunGC(runCtx, cfg.Store.GCInterval.Duration); return nil })
	run(func() error { return srv.Serve(runCtx, listeners.unix) })
	for _, ln := range listeners.lan {
		run(func() error { return srv.ServeLAN(runCtx, ln, listeners.tls) })
	}
	for _, t := range targets {
		w := events.NewWorker(st, t, log.With(slog.String("component", "webhook"), slog.String("client", t.Client)))
		run(func() error { return w.Run(runCtx) })
	}
	run(func() error { watchDevices(runCtx, deviceStates(q), st, log); return nil })
	log.Info("smsgw ready", slog.String("socket", cfg.API.Socket), slog.Bool("socket_activated", listeners.activated),
		slog.Any("lan", cfg.API.LAN.Listen), slog.String("store", cfg.Store.Dir),
		slog.Int("drivers", len(devices)), slog.Int("webhooks", len(targets)), slog.String("version", Version))
	if hooks.Ready != nil {
		hooks.Ready()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	log.Info("smsgw stopping")
	if hooks.Stopping != nil {
		hooks.Stopping()
	}
	stop()
	wg.Wait()
	if !listeners.activated {
		_ = os.Remove(cfg.API.Socket)
	}
	if runErr != nil {
		return runErr
	}
	return nil
}

func openDevices(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]queue.Device, func(), error) {
	var devices []queue.Device
	closeAll := func() {
		for _, d := range devices {
			if err := d.Driver.Close(); err != nil {
				log.Warn("closing driver", slog.String("driver", d.Name), slog.Any("err", err))
			}
		}
	}
	for _, dc := range cfg.Drivers {
		drv, err := builtin.Open(ctx, dc, log.With(slog.String("driver", dc.Name)))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("driver %s: %w", dc.Name, err)
		}
		devices = append(devices, queue.Device{
			Name: dc.Name, Type: dc.Type, Driver: drv, Concurrency: dc.Concurrency,
			Every: dc.Pacing.Every.Duration, MaxParts: dc.Pacing.Max.Count, Window: dc.Pacing.Max.Window,
		})
	}
	return devices, closeAll, nil
}

func routes(cfg *config.Config) map[string][]string {
	out := map[string][]string{}
	for _, r := range cfg.Routes {
		for _, p := range r.Purposes {
			out[p] = append(out[p], r.Drivers...)
		}
	}
	return out
}

// renderer renders a stored message from its template at send time, so the
// text itself is never stored.
func renderer(cfg *config.Config) queue.RenderFunc {
	return func(m *store.Message) (string, drivers.SegmentPlan, error) {
		if m.Template == "" {
			if m.Text == "" {
				return "", drivers.SegmentPlan{}, errors.New("the message's text was erased")
			}
			return m.Text, policy.Plan(m.Text), nil
		}
		tpl, ok := cfg.Policy.Templates[m.Template]
		if !ok {
			return "", drivers.SegmentPlan{}, fmt.Errorf("template %q is no longer configured", m.Template)
		}
		if m.Erased {
			return "", drivers.SegmentPlan{}, errors.New("the message's secret params were erased")
		}
		return policy.Render(tpl, m.Params)
	}
}

// backend adapts the queue to what the API needs.
type backend struct {
	*queue.Queue
	started time.Time
}

func (b backend) Health(ctx context.Context) client.Health {
	h := client.Health{Status: "ok", Version: Version, UptimeSeconds: time.Since(b.started).Seconds()}
	ready := 0
	for _, d := range b.Devices() {
		state := d.Health.State
		if state == "" {
			state = drivers.StateReady
		}
		if state != drivers.StateDown {
			ready++
		}
		h.Devices = append(h.Devices, client.Device{
			Name: d.Name, Type: d.Type, State: string(state), Detail: d.Health.Detail,
			LastError: d.Health.LastError, CheckedAt: d.Health.CheckedAt,
		})
	}
	switch {
	case ready == 0:
		h.Status = "down"
	case ready < len(h.Devices):
		h.Status = "degraded"
	}
	return h
}
