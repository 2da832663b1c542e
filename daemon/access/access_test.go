package access

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsPrivate(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true,
		"192.168.1.10": true, "169.254.10.1": true, "::1": true, "fd12:3456::1": true, "fe80::1": true,
		"::ffff:192.168.1.5": true,
		"172.32.0.1":         false, "8.8.8.8": false, "100.64.0.1": false, "2001:db8::1": false,
		"0.0.0.0": false, "::": false, "192.0.2.1": false, "::ffff:8.8.8.8": false,
	}
	for s, want := range cases {
		if got := IsPrivate(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPrivate(%s) = %v, want %v", s, got, want)
		}
	}
	if IsPrivate(netip.Addr{}) {
		t.Error("the zero address is private")
	}
}

func TestCheckListen(t *testing.T) {
	privateOnly := func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("fe80::1")}, nil
	}
	withPublic := func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("203.0.113.7")}, nil
	}
	cases := []struct {
		addr   string
		ifaces func() ([]netip.Addr, error)
		ok     bool
		want   string
	}{
		{"192.168.1.10:8787", privateOnly, true, ""},
		{"[fd00::5]:8787", privateOnly, true, ""},
		{"127.0.0.1:8787", withPublic, true, ""},
		{"[fe80::1%eth0]:8787", privateOnly, true, ""},
		{"0.0.0.0:8787", privateOnly, true, ""},
		{"0.0.0.0:8787", withPublic, false, "would also listen on 203.0.113.7"},
		{"[::]:8787", withPublic, false, "would also listen on"},
		{"203.0.113.7:8787", privateOnly, false, "not a private address"},
		{"100.64.0.1:8787", privateOnly, false, "not a private address"},
		{"smsgw.lan:8787", privateOnly, false, "not a host name"},
		{"192.168.1.10", privateOnly, false, "missing port"},
		{"192.168.1.10:", privateOnly, false, "a port is required"},
	}
	for _, c := range cases {
		err := CheckListen(c.addr, c.ifaces)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%s) = %v, want ok=%v", c.addr, err, c.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckListen(%s) = %q, want it to mention %q", c.addr, err, c.want)
		}
	}
	if err := CheckListen("203.0.113.7:1", privateOnly); !errors.Is(err, ErrPublicAddress) {
		t.Errorf("public address error is not ErrPublicAddress: %v", err)
	}
	if err := CheckListen("0.0.0.0:1", func() ([]netip.Addr, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("an interface listing failure was ignored")
	}
}

func TestAllowList(t *testing.T) {
	l, err := ParseAllowList([]string{"192.168.1.0/24", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"192.168.1.20:5000": true, "[fd00::7]:5000": true, "[::ffff:192.168.1.9]:1": true,
		"192.168.2.20:5000": false, "10.0.0.1:5000": false, "8.8.8.8:53": false, "garbage": false,
	}
	for addr, want := range cases {
		if got := l.Allows(addr); got != want {
			t.Errorf("Allows(%s) = %v, want %v", addr, got, want)
		}
	}
	var empty AllowList
	if !empty.Allows("10.9.9.9:1") || empty.Allows("8.8.8.8:1") {
		t.Error("an empty list must allow every private peer and no public one")
	}
	for _, bad := range [][]string{{"0.0.0.0/0"}, {"192.168.0.0/15"}, {"8.8.8.0/24"}, {"not-a-cidr"}, {"::/0"}} {
		if _, err := ParseAllowList(bad); err == nil {
			t.Errorf("ParseAllowList(%v) accepted", bad)
		}
	}
}

func TestParseBearer(t *testing.T) {
	cases := []struct {
		header, token string
		err           error
	}{
		{"Bearer abc.DEF_123-~", "abc.DEF_123-~", nil},
		{"bearer  tok", "tok", nil},
		{"", "", ErrNoCredentials},
		{"Basic dXNlcjpwYXNz", "", ErrBadCredentials},
		{"Bearer", "", ErrBadCredentials},
		{"Bearer ", "", ErrBadCredentials},
		{"Bearer a b", "", ErrBadCredentials},
		{"Bearer tok\x00", "", ErrBadCredentials},
		{"Bearer é", "", ErrBadCredentials},
		{"Bearer " + strings.Repeat("a", 600), "", ErrBadCredentials},
	}
	for _, c := range cases {
		got, err := ParseBearer(c.header)
		if got != c.token || !errors.Is(err, c.err) {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", c.header, got, err, c.token, c.err)
		}
	}
}

func TestTokens(t *testing.T) {
	tok, digest, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	other, otherDigest, _ := NewToken()
	if tok == other || !strings.HasPrefix(tok, "smsgw_") || len(digest) != 64 {
		t.Fatalf("token %q digest %q", tok, digest)
	}
	if _, err := ParseBearer("Bearer " + tok); err != nil {
		t.Fatalf("a new token does not parse as a bearer token: %v", err)
	}
	clients := []TokenClient{{"bad", "zz"}, {"shop", digest}, {"clinic", otherDigest}}
	if got := MatchToken(tok, clients); got != "shop" {
		t.Errorf("MatchToken = %q", got)
	}
	if got := MatchToken(other, clients); got != "clinic" {
		t.Errorf("MatchToken = %q", got)
	}
	if got := MatchToken("smsgw_wrong", clients); got != "" {
		t.Errorf("wrong token matched %q", got)
	}
}

func TestPeerOf(t *testing.T) {
	dir, err := os.MkdirTemp("", "acc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("unix", filepath.Join(dir, "s"))
		if err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1))
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := PeerOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != uint32(os.Getuid()) || p.GID != uint32(os.Getgid()) || p.PID != int32(os.Getpid()) {
		t.Fatalf("peer %+v, want uid %d gid %d pid %d", p, os.Getuid(), os.Getgid(), os.Getpid())
	}
	tcp, _ := net.Pipe()
	if _, err := PeerOf(tcp); err == nil {
		t.Error("PeerOf accepted a non-Unix connection")
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer x", "", "Basic y", "Bearer  a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := ParseBearer(header)
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") || len(tok) > maxTokenLen {
			t.Fatalf("accepted token %q", tok)
		}
	})
}

func FuzzAllowList(f *testing.F) {
	f.Add("192.168.1.0/24", "192.168.1.7:80")
	f.Add("fd00::/8", "[fd00::1]:1")
	f.Add("10.0.0.0/8", "8.8.8.8:53")
	f.Fuzz(func(t *testing.T, cidr, remote string) {
		l, err := ParseAllowList([]string{cidr})
		if err != nil {
			return
		}
		if l.Allows(remote) {
			ap, err := netip.ParseAddrPort(remote)
			if err != nil || !IsPrivate(ap.Addr()) {
				t.Fatalf("%s allowed %q", cidr, remote)
			}
		}
	})
}

func FuzzCheckListen(f *testing.F) {
	f.Add("192.168.1.10:8787")
	f.Add("0.0.0.0:1")
	f.Add("[::]:80")
	f.Add("8.8.8.8:53")
	ifaces := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("203.0.113.1")}, nil }
	f.Fuzz(func(t *testing.T, addr string) {
		if CheckListen(addr, ifaces) != nil {
			return
		}
		host, _, _ := net.SplitHostPort(addr)
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || !IsPrivate(a.WithZone("")) {
			t.Fatalf("accepted %q", addr)
		}
	})
}
