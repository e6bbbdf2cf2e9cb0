package harness

import (
	"context"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// MailServer is a real SMTP server (go-smtp) in the test's process, on a
// free port: the fake partner of the e-mails the functions send. It keeps
// every message it accepts, and can be told to fail (a temporary 451 to
// each message) so that a test sees the outbox retry.
type MailServer struct {
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	mu       sync.Mutex
	received []Mail
	failing  bool
	refused  int
}

// Mail is one message as the server took it: the envelope and the raw
// RFC 5322 text, for the test to parse (net/mail, mime/multipart).
type Mail struct {
	From string
	To   []string
	Data []byte
}

// MailFrom is the sender the harness configures the functions with.
const MailFrom = "report@rdc-interop.test"

// StartMailServer listens on 127.0.0.1:<free port>, in plain text: the
// functions are configured with SMTP_TLS=none to reach it.
func StartMailServer() (*MailServer, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &MailServer{ln: ln, done: make(chan struct{})}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{server: m}, nil }))
	m.srv.Domain = "localhost"
	m.srv.ReadTimeout, m.srv.WriteTimeout = 30*time.Second, 30*time.Second
	m.srv.MaxMessageBytes = 32 << 20
	m.srv.MaxRecipients = 10
	m.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // ends at Close
	}()
	return m, nil
}

// Addr is the server's host:port.
func (m *MailServer) Addr() string { return m.ln.Addr().String() }

// Env is the functions' settings (apl-daily-report's SMTP_*) to reach it.
func (m *MailServer) Env() map[string]string {
	host, port, _ := net.SplitHostPort(m.Addr())
	return map[string]string{"SMTP_HOST": host, "SMTP_PORT": port, "SMTP_FROM": MailFrom, "SMTP_TLS": "none"}
}

// Received is a copy of the messages taken so far.
func (m *MailServer) Received() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.received...)
}

// Fail makes the server answer every message with a temporary failure
// (451) until Fail(false).
func (m *MailServer) Fail(on bool) {
	m.mu.Lock()
	m.failing = on
	m.mu.Unlock()
}

// Refused is how many messages the server has failed on purpose.
func (m *MailServer) Refused() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused
}

// Close stops the server.
func (m *MailServer) Close() {
	_ = m.srv.Close()
	<-m.done
}

type mailSession struct {
	server *MailServer
	from   string
	to     []string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.server
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		m.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	m.received = append(m.received, Mail{From: s.from, To: append([]string(nil), s.to...), Data: b})
	return nil
}

func (s *mailSession) Reset() { s.from, s.to = "", nil }

func (s *mailSession) Logout() error { return nil }
