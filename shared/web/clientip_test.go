package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		remote string
		xff    []string
		hops   int
		want   string // "" when it cannot be told
	}{
		{"direct", "192.0.2.7:5555", nil, 0, "192.0.2.7"},
		{"direct ignores a forged header", "192.0.2.7:5555", []string{"10.1.1.1"}, 0, "192.0.2.7"},
		{"one proxy", "10.0.0.2:80", []string{"198.51.100.9"}, 1, "198.51.100.9"},
		{"one proxy, client forged an entry", "10.0.0.2:80", []string{"6.6.6.6, 198.51.100.9"}, 1, "198.51.100.9"},
		{"two proxies over two headers", "10.0.0.3:80", []string{"6.6.6.6, 198.51.100.9", "10.0.0.2"}, 2, "198.51.100.9"},
		{"fewer entries than proxies", "10.0.0.3:80", []string{"198.51.100.9"}, 2, ""},
		{"garbage", "10.0.0.2:80", []string{"not-an-ip"}, 1, ""},
		{"IPv6", "[2001:db8::1]:443", nil, 0, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := clientIP(r, tt.hops)
			if tt.want == "" {
				if ok {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("got %v %v, want %s", got, ok, tt.want)
			}
		})
	}
}
