package auth

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkVerifyCached is the common case: a partner presenting the same
// token for its whole lifetime.
func BenchmarkVerifyCached(b *testing.B) {
	ring := testRing(b, "rsa-a")
	srv := newJWKSServer(b, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	tok := mustSign(b, ring, claimsAt(clk.Now(), nil))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached is a token seen for the first time: parse, RSA
// verification, claims; the JWKS is already cached.
func BenchmarkVerifyUncached(b *testing.B) {
	ring := testRing(b, "rsa-a")
	srv := newJWKSServer(b, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, func(c *VerifierConfig) { c.MaxCacheEntries = -1 })
	tok := mustSign(b, ring, claimsAt(clk.Now(), nil))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is many partners at once on all cores: what
// the sharded cache is for.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	ring := testRing(b, "rsa-a")
	srv := newJWKSServer(b, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	toks := make([]string, 256)
	for i := range toks {
		toks[i] = mustSign(b, ring, claimsAt(clk.Now(), func(c *Claims) { c.ID = strconv.Itoa(i) }))
		if _, err := v.Verify(ctx, toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(ctx, toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
