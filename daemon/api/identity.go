package api

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"smsgw/config"
	"smsgw/daemon/access"
)

// Problem codes of authentication and authorisation.
const (
	codePeerUnknown    = "peer_unknown"
	codePeerNotAllowed = "peer_not_allowed"
	codeTokenMissing   = "token_missing"
	codeTokenInvalid   = "token_invalid"
	codeAdminOnly      = "admin_only"
)

// connKey holds a connInfo in a connection's context.
type connKey struct{}

// serveDoneKey holds the done channel of the Serve call a request came in
// through, so that long streams end at shutdown.
type serveDoneKey struct{}

// connInfo says how a connection reached the server.
type connInfo struct {
	lan bool
	// Unix socket peers.
	peer    access.Peer
	peerErr error
	// LAN peers: "ip:port".
	remote string
}

// unixConnContext records the Unix socket peer's credentials.
func unixConnContext(ctx context.Context, c net.Conn) context.Context {
	p, err := access.PeerOf(c)
	return context.WithValue(ctx, connKey{}, connInfo{peer: p, peerErr: err})
}

// lanConnContext records a LAN peer's address.
func lanConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, connInfo{lan: true, remote: c.RemoteAddr().String()})
}

// identity is who a request comes from.
type identity struct {
	client string
	// admin sees and acts on every client's messages.
	admin bool
}

type identityKey struct{}

// who returns the identity authenticate put on the request.
func who(r *http.Request) identity {
	id, _ := r.Context().Value(identityKey{}).(identity)
	return id
}

// clientName is the configured client a request comes from.
func (s *Server) clientName(r *http.Request) string { return who(r).client }

// authenticator maps connections to clients; built once from the
// configuration.
type authenticator struct {
	clients      map[string]config.Client
	byUID, byGID map[uint32]string
	tokens       []access.TokenClient
	socketClient string
	allow        access.AllowList
	denyLAN      bool
}

func newAuthenticator(clients []config.Client, apiCfg config.API) *authenticator {
	a := &authenticator{
		clients:      map[string]config.Client{},
		byUID:        map[uint32]string{},
		byGID:        map[uint32]string{},
		socketClient: apiCfg.SocketClient,
	}
	for _, c := range clients {
		a.clients[c.Name] = c
		for _, u := range c.UnixUIDs {
			a.byUID[uint32(u)] = c.Name
		}
		for _, g := range c.UnixGIDs {
			a.byGID[uint32(g)] = c.Name
		}
		if c.TokenSHA256 != "" {
			a.tokens = append(a.tokens, access.TokenClient{Name: c.Name, SHA256Hex: c.TokenSHA256})
		}
	}
	allow, err := access.ParseAllowList(apiCfg.LAN.Allow)
	if err != nil {
		// Validate refuses such a configuration and ListenLAN fails on
		// it; should a server be built anyway, no LAN peer gets in.
		a.denyLAN = true
	}
	a.allow = allow
	return a
}

func (a *authenticator) named(name string) identity {
	return identity{client: name, admin: a.clients[name].Admin}
}

// identify decides who r comes from, or the problem to answer.
//
// On the Unix socket, with no client configured, every peer is the admin
// client "local". Otherwise the peer's uid, then its gid, then
// api.socket_client name its client; any other peer is refused. A request
// that came in through no listener of ours (an in-process caller of
// Handler) is judged like a socket peer whose credentials are unknown.
//
// On the LAN listener the peer must be in the allow list (the listener
// already closed other connections; this is the second check) and present
// a bearer token whose digest a client holds.
func (a *authenticator) identify(r *http.Request) (identity, *problem) {
	ci, viaListener := r.Context().Value(connKey{}).(connInfo)
	if ci.lan {
		if a.denyLAN || !a.allow.Allows(ci.remote) {
			return identity{}, problemf(http.StatusForbidden, codePeerNotAllowed,
				"This address may not use the API; the operator can add its network to api.lan.allow.")
		}
		tok, err := access.ParseBearer(r.Header.Get("Authorization"))
		if err != nil {
			code := codeTokenInvalid
			if err == access.ErrNoCredentials {
				code = codeTokenMissing
			}
			p := problemf(http.StatusUnauthorized, code,
				"Send the client's token as \"Authorization: Bearer <token>\"; the operator makes one with `smsgw token create`.")
			p.wwwAuthenticate = `Bearer realm="smsgw"`
			return identity{}, p
		}
		name := access.MatchToken(tok, a.tokens)
		if name == "" {
			p := problemf(http.StatusUnauthorized, codeTokenInvalid,
				"This token belongs to no client; check it, or ask the operator for a new one (`smsgw token create`).")
			p.wwwAuthenticate = `Bearer realm="smsgw", error="invalid_token"`
			return identity{}, p
		}
		return a.named(name), nil
	}
	if len(a.clients) == 0 {
		return identity{client: localClient, admin: true}, nil
	}
	if viaListener && ci.peerErr == nil {
		if name, ok := a.byUID[ci.peer.UID]; ok {
			return a.named(name), nil
		}
		if name, ok := a.byGID[ci.peer.GID]; ok {
			return a.named(name), nil
		}
	}
	if a.socketClient != "" {
		return a.named(a.socketClient), nil
	}
	if !viaListener || ci.peerErr != nil {
		return identity{}, problemf(http.StatusForbidden, codePeerUnknown,
			"The daemon could not read this connection's credentials, and api.socket_client is not set.")
	}
	return identity{}, problemf(http.StatusForbidden, codePeerUnknown,
		"Socket peer uid %s (gid %s) is not a configured client: add %s to the unix_uids of its client under clients, or set api.socket_client.",
		strconv.FormatUint(uint64(ci.peer.UID), 10), strconv.FormatUint(uint64(ci.peer.GID), 10), strconv.FormatUint(uint64(ci.peer.UID), 10))
}

// authenticate puts the caller's identity on the request or refuses it.
// /openapi.json is public on every listener allowed to connect.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, p := s.auth.identify(r)
		if p != nil {
			if ci, _ := r.Context().Value(connKey{}).(connInfo); r.URL.Path == "/openapi.json" && (!ci.lan || s.auth.allow.Allows(ci.remote)) {
				next.ServeHTTP(w, r)
				return
			}
			s.log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "code", p.Code)
			writeProblem(w, p)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// adminOnly refuses callers that are not admin clients.
func adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !who(r).admin {
			writeProblem(w, problemf(http.StatusForbidden, codeAdminOnly,
				"Only an admin client may do this; the operator can set admin: true on a client, or use the socket as an admin."))
			return
		}
		h(w, r)
	}
}
