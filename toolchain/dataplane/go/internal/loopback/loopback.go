// Package loopback keeps every socket of the test data plane on this machine: addresses outside
// 127.0.0.0/8 are refused before any packet is sent.
package loopback

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Check returns an error unless host:port names an IPv4 address in 127.0.0.0/8 (no DNS names:
// a name could resolve elsewhere).
func Check(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %v", hostport, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("address %q is not an IP address; only 127.0.0.0/8 is allowed", hostport)
	}
	if !loopback.Contains(ip.Unmap()) {
		return fmt.Errorf("address %q is outside 127.0.0.0/8; traffic must stay on this machine", hostport)
	}
	return nil
}

// Dial connects over TCP only after Check accepts the address.
func Dial(ctx context.Context, hostport string) (net.Conn, error) {
	if err := Check(hostport); err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", hostport)
}

// Listen listens on TCP only after Check accepts the address.
func Listen(hostport string) (net.Listener, error) {
	if err := Check(hostport); err != nil {
		return nil, err
	}
	return net.Listen("tcp", hostport)
}
