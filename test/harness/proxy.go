package harness

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy is a TCP relay in front of a service, so a test can take the service
// away from the functions (Cut: every connection dropped, new ones refused)
// and give it back (Restore) without touching the server other tests share.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	// budget, when armed, is how many more bytes may pass before a Cut.
	budget  int64
	armed   atomic.Bool // read without the lock: most proxies are never armed
	tripped chan struct{}
}

// NewProxy relays 127.0.0.1:<free port> to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.relay(c)
	}
}

func (p *Proxy) relay(c net.Conn) {
	up, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	// A copy ends when either side closes or is cut: its error is that.
	go func() { _, _ = io.Copy(p.counting(up), c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(p.counting(c), up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut drops every open connection and refuses new ones, as a stopped server would.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// CutAfter cuts the service once n more bytes have passed, either way, on
// any connection: a server that stops in the middle of a job rather than
// before it. The channel is closed when the cut happens.
func (p *Proxy) CutAfter(n int64) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget, p.tripped = n, make(chan struct{})
	p.armed.Store(true)
	return p.tripped
}

func (p *Proxy) counting(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		if p.armed.Load() {
			p.mu.Lock()
			if p.armed.Load() {
				p.budget -= int64(len(b))
				if p.budget <= 0 {
					p.armed.Store(false)
					close(p.tripped)
					p.mu.Unlock()
					p.Cut()
					return 0, net.ErrClosed
				}
			}
			p.mu.Unlock()
		}
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Restore lets connections through again, and disarms CutAfter.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.armed.Store(false)
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.Cut()
	p.ln.Close()
}
