package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address the request came from, as far as the trusted
// proxies vouch for it (config TRUSTED_PROXY_HOPS: how many proxies in
// front of the function write X-Forwarded-For); ok is false when it cannot
// be told. With 0 hops the peer's own address is the client's. Entries
// further left than the trusted ones were written by the client and prove
// nothing.
//
// On OpenFaaS neither the gateway nor of-watchdog appends to the header:
// each sets it to its peer's "ip:port" only when it is absent, so the
// header the function sees is the one the ingress in front of the gateway
// wrote (ingress-nginx replaces it with the peer's address by default): 1
// hop. Without such an ingress a caller could write its own.
func ClientIP(r *http.Request) (netip.Addr, bool) {
	hops := 0
	if p := stateOf(r.Context()).p; p != nil {
		hops = p.Config.TrustedProxyHops
	}
	return clientIP(r, hops)
}

func clientIP(r *http.Request, hops int) (netip.Addr, bool) {
	if hops == 0 {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		a, err := netip.ParseAddr(host)
		return a.Unmap(), err == nil
	}
	var entries []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, e := range strings.Split(h, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	// The last proxy appended the address of the one before it, and so on:
	// the client is the entry the first trusted proxy appended.
	if len(entries) < hops {
		return netip.Addr{}, false
	}
	e := entries[len(entries)-hops]
	// OpenFaaS's proxies write the peer's address with its port.
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(e)
	return a.Unmap(), err == nil
}
