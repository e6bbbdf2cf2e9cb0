package web

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// trustedHops is how many proxies in front of the function append to
// X-Forwarded-For and can be trusted to (TRUSTED_PROXY_HOPS: on OpenFaaS,
// typically the ingress and the gateway, with of-watchdog in between). With
// 0 the peer's own address is the client's. Entries further left than the
// trusted ones were written by the client and prove nothing.
var trustedHops = func() int {
	n, err := strconv.Atoi(os.Getenv("TRUSTED_PROXY_HOPS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}()

// ClientIP is the address the request came from, as far as the trusted
// proxies vouch for it; ok is false when it cannot be told.
func ClientIP(r *http.Request) (netip.Addr, bool) {
	return clientIP(r, trustedHops)
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
	a, err := netip.ParseAddr(entries[len(entries)-hops])
	return a.Unmap(), err == nil
}
