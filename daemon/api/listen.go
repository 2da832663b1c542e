package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Serve answers API requests on the Unix socket listener ln until ctx is
// done, then shuts down gracefully: it stops accepting, lets running
// requests finish for a grace period and returns nil. It returns an error if
// serving fails or the grace period runs out. Serve closes ln. Each
// connection's peer credentials (SO_PEERCRED) name its client.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, unixConnContext, nil)
}

// ServeLAN is Serve for a LAN listener from ListenLAN: every request needs
// a bearer token, and tlsCfg, when not nil, makes it HTTPS.
func (s *Server) ServeLAN(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return s.serve(ctx, ln, lanConnContext, tlsCfg)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, connCtx func(context.Context, net.Conn) context.Context, tlsCfg *tls.Config) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(readHeaderTimeout, s.cfg.ReadTimeout.Duration),
		ReadTimeout:       s.cfg.ReadTimeout.Duration,
		WriteTimeout:      s.cfg.WriteTimeout.Duration,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig:         tlsCfg,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.WithoutCancel(ctx), serveDoneKey{}, ctx.Done())
		},
		ConnContext: connCtx,
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve API on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("shut down API on %s: %w", ln.Addr(), err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API on %s: %w", ln.Addr(), err)
	}
	return nil
}

// ListenUnix listens on the Unix socket path with permission mode. It
// creates the parent directory (0750) if missing. An existing socket file is
// removed only if nothing answers on it; if something does, another daemon is
// running and ListenUnix fails. A path that exists and is not a socket is
// never touched. The socket file is removed when the listener is closed.
func ListenUnix(path string, mode os.FileMode) (net.Listener, error) {
	return ListenUnixGroup(path, mode, -1)
}

// ListenUnixGroup is ListenUnix that also gives the socket file, and its
// directory when it creates it, to group gid (-1: leave the group alone),
// so that the group's members can connect with a mode such as 0660.
func ListenUnixGroup(path string, mode os.FileMode, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if gid >= 0 && errors.Is(statErr, os.ErrNotExist) {
		if err := os.Chown(dir, -1, gid); err != nil {
			return nil, fmt.Errorf("give socket directory %s to group %d: %w", dir, gid, err)
		}
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Between Listen and Chmod the socket has the umask's permissions;
	// the 0750 directory is what keeps strangers out meanwhile.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("set mode of %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("give %s to group %d: %w", path, gid, err)
		}
	}
	return ln, nil
}

// removeStaleSocket removes path if it is a socket nobody listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another smsgw is running on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
