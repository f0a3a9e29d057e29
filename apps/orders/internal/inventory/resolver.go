package inventory

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc/resolver"
)

// staticScheme accepts targets like "ipv4:127.0.0.1:5001,127.0.0.1:5002", the fixed address-list
// syntax that gRPC's C core (and so the Python services) understands and grpc-go lacks. It lets
// tests and benchmarks put several local replicas behind one round-robin channel.
const staticScheme = "ipv4"

type staticBuilder struct{}

func (staticBuilder) Scheme() string { return staticScheme }

func (staticBuilder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	addrs, err := parseStatic(target.URL.Opaque)
	if err != nil {
		return nil, err
	}
	if err := cc.UpdateState(resolver.State{Endpoints: addrs}); err != nil {
		return nil, err
	}
	return staticResolver{}, nil
}

type staticResolver struct{}

func (staticResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (staticResolver) Close()                                {}

func parseStatic(list string) ([]resolver.Endpoint, error) {
	var out []resolver.Endpoint
	for _, hostport := range strings.Split(list, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(hostport))
		if err != nil || net.ParseIP(host).To4() == nil || port == "" {
			return nil, fmt.Errorf("%q in an %s: target is not an IPv4 address with a port", hostport, staticScheme)
		}
		out = append(out, resolver.Endpoint{Addresses: []resolver.Address{{Addr: net.JoinHostPort(host, port)}}})
	}
	return out, nil
}
