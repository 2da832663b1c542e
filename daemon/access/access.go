// Package access decides who may talk to smsgw: the addresses a LAN
// listener may bind and accept, bearer tokens and their stored hashes, and
// the identity of a peer on the Unix socket. It holds no state of its own;
// the API applies its answers.
package access

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// privateRanges are the only networks smsgw ever answers on: loopback,
// RFC 1918, RFC 4193 unique local, and link-local.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// IsPrivate reports whether addr is loopback, RFC 1918, RFC 4193 or
// link-local. IPv4-mapped IPv6 addresses are judged as IPv4.
func IsPrivate(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return false
	}
	for _, p := range privateRanges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ErrPublicAddress is returned for a listen address outside the private
// ranges.
var ErrPublicAddress = errors.New("not a private address")

// CheckListen decides whether a LAN listener may bind hostport. A private
// address is accepted. An unspecified address (0.0.0.0 or ::) is accepted
// only when every address of the machine's interfaces is private, because
// it would otherwise listen on a public one too; ifaceAddrs lists them
// (pass InterfaceAddrs in production). Host names are refused: what they
// resolve to can change.
func CheckListen(hostport string, ifaceAddrs func() ([]netip.Addr, error)) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", hostport, err)
	}
	if port == "" {
		return fmt.Errorf("listen address %q: a port is required", hostport)
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return fmt.Errorf("listen address %q: use an IP address, not a host name", hostport)
	}
	if addr.Zone() != "" {
		addr = addr.WithZone("")
	}
	if addr.IsUnspecified() {
		all, err := ifaceAddrs()
		if err != nil {
			return fmt.Errorf("listen address %q: listing interface addresses: %w", hostport, err)
		}
		for _, a := range all {
			if !IsPrivate(a) {
				return fmt.Errorf("listen address %q would also listen on %s: %w; name a private address instead", hostport, a, ErrPublicAddress)
			}
		}
		return nil
	}
	if !IsPrivate(addr) {
		return fmt.Errorf("listen address %q: %w (allowed: loopback, 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10)", hostport, ErrPublicAddress)
	}
	return nil
}

// InterfaceAddrs lists the IP addresses of the machine's interfaces.
func InterfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// AllowList is a set of networks a LAN client must come from.
type AllowList []netip.Prefix

// ParseAllowList parses CIDR strings. Every network must lie within the
// private ranges: the allow list narrows them, never widens them.
func ParseAllowList(cidrs []string) (AllowList, error) {
	var out AllowList
	var problems []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a CIDR network such as 192.168.1.0/24", c))
			continue
		}
		p = p.Masked()
		if !IsPrivate(p.Addr()) || !IsPrivate(lastAddr(p)) {
			problems = append(problems, fmt.Sprintf("%s is not within the private ranges", p))
			continue
		}
		out = append(out, p)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

// Allows reports whether a peer at remoteAddr ("ip:port") may connect: it
// must be private and, when the list is not empty, inside one of its networks.
func (l AllowList) Allows(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap().WithZone("")
	if !IsPrivate(addr) {
		return false
	}
	if len(l) == 0 {
		return true
	}
	for _, p := range l {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
