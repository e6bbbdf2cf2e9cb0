package function

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/sheet"
)

// smtpConfig is how the report's e-mails leave (SMTP_* in stack.yml, the
// password a secret). It is this function's own: no other function sends
// mail, so shared/config does not carry it. Host empty: e-mails wait in
// the outbox until one is configured; nothing is lost.
type smtpConfig struct {
	Host     string
	Port     int
	User     string
	Password string `json:"-"`
	From     string
	// TLS: mandatory (STARTTLS or fail; the default), opportunistic
	// (STARTTLS when offered), implicit (TLS from the first byte, port
	// 465) or none (a relay on a trusted network, and the tests).
	TLS string
}

// loadSMTP reads the settings as shared/config does: plain ones from the
// environment, the password from the secret smtp-password (else
// SMTP_PASSWORD). A bad value fails the start with its name, never its value.
func loadSMTP(getenv config.Getenv, secrets config.Secrets) (smtpConfig, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := smtpConfig{Host: get("SMTP_HOST", ""), User: get("SMTP_USER", ""), From: get("SMTP_FROM", ""), TLS: get("SMTP_TLS", "mandatory")}
	if c.Host == "" {
		return c, nil
	}
	var errs []error
	port, err := strconv.Atoi(get("SMTP_PORT", "587"))
	if err != nil || port < 1 || port > 65535 {
		errs = append(errs, errors.New("SMTP_PORT: want a port number"))
	}
	c.Port = port
	switch c.TLS {
	case "mandatory", "opportunistic", "implicit", "none":
	default:
		errs = append(errs, errors.New("SMTP_TLS: want mandatory, opportunistic, implicit or none"))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, errors.New("SMTP_FROM: want the sender's address, required with SMTP_HOST"))
	}
	if c.User != "" {
		if c.Password, err = secrets.Get("smtp-password", "SMTP_PASSWORD"); err != nil {
			errs = append(errs, fmt.Errorf("SMTP_USER is set: %w", err))
		}
	}
	return c, errors.Join(errs...)
}

// mailNotice is the body of a REPORT_APL_EMAIL row: the webhook's notice
// and what the e-mail needs besides; no address (that is the row's url).
type mailNotice struct {
	IDReport  string          `json:"id_report"`
	APL       string          `json:"apl"`
	NomeAPL   string          `json:"denominazione_apl"`
	Data      civil.Date      `json:"data"`
	Riepilogo json.RawMessage `json:"riepilogo"`
	Oggetto   string          `json:"oggetto"` // the workbook in the report store
}

// mailer sends one super user the report with its workbook attached.
type mailer struct {
	cfg   smtpConfig
	files *files.Store
}

// mailTo is the row's url of an e-mail delivery.
const mailTo = "mailto:"

// send is the outbox's Partner.Send for e-mails. The Message-ID is the
// delivery's own, so a mail system that keeps them drops the repeats that
// at-least-once delivery allows. Its failures name a class, never an
// address.
func (m *mailer) send(ctx context.Context, d outbox.Delivery) string {
	addr, err := mail.ParseAddress(strings.TrimPrefix(d.URL, mailTo))
	if err != nil || !strings.HasPrefix(d.URL, mailTo) {
		return "bad e-mail address"
	}
	var n mailNotice
	if err := json.Unmarshal(d.Body, &n); err != nil || n.Oggetto == "" {
		return "bad e-mail notice"
	}
	body, info, err := m.files.Open(ctx, n.Oggetto)
	if err != nil {
		return "workbook unavailable"
	}
	book, err := io.ReadAll(io.LimitReader(body, info.Size+1))
	body.Close()
	if err != nil {
		return "workbook unavailable"
	}
	msg, err := m.message(d, n, addr.Address, book)
	if err != nil {
		return "e-mail not composed"
	}
	client, err := m.client()
	if err != nil {
		return "smtp: bad settings"
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return smtpClass(err)
	}
	return ""
}

// message is the e-mail: a subject with the agency and the day, a short
// text, the workbook attached. The report holds aggregates, branches and
// offers only: no citizen's data is in it, nor in the text.
func (m *mailer) message(d outbox.Delivery, n mailNotice, to string, book []byte) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(to); err != nil {
		return nil, err
	}
	msg.Subject(mailSubject(n))
	sum := sha256.Sum256([]byte(d.ID + "\x00" + d.To))
	msg.SetMessageIDWithValue("report-" + hex.EncodeToString(sum[:12]) + "@apl-daily-report")
	msg.SetDate()
	var s summary
	_ = json.Unmarshal(n.Riepilogo, &s) // the figures of the text; the workbook has them all
	msg.SetBodyString(gomail.TypeTextPlain, mailText(n, s))
	name := "report-" + n.APL + "-" + n.Data.String() + ".xlsx"
	if err := msg.AttachReader(name, bytes.NewReader(book), gomail.WithFileContentType(gomail.ContentType(sheet.MediaType))); err != nil {
		return nil, err
	}
	return msg, nil
}

func mailSubject(n mailNotice) string {
	return "Report giornaliero APL " + n.NomeAPL + " (" + n.APL + ") del " + n.Data.String()
}

func mailText(n mailNotice, s summary) string {
	c, i := s.Andamento.Cittadini, s.Andamento.Candidature
	var b strings.Builder
	fmt.Fprintf(&b, "Report giornaliero dell'agenzia %s (%s) del %s.\r\n\r\n", n.NomeAPL, n.APL, n.Data)
	fmt.Fprintf(&b, "Cittadini che hanno scelto l'agenzia: %d (ieri %d, giorno prima %d, ultimi 7 giorni %d, ultimi 30 giorni %d)\r\n",
		s.CittadiniTotali, c.Ieri, c.GiornoPrima, c.Ultimi7, c.Ultimi30)
	fmt.Fprintf(&b, "Manifestazioni di interesse: %d (ieri %d, giorno prima %d, ultimi 7 giorni %d, ultimi 30 giorni %d)\r\n",
		s.CandidatureTotali, i.Ieri, i.GiornoPrima, i.Ultimi7, i.Ultimi30)
	fmt.Fprintf(&b, "Offerte pubblicate: %d; in scadenza entro %d giorni: %d\r\n\r\n", s.OffertePubblicate, nearEndDays, s.OfferteInScadenza)
	b.WriteString("Il dettaglio per filiale, il grafico degli ultimi 30 giorni e le offerte in scadenza sono nel file allegato.\r\n")
	return b.String()
}

func (m *mailer) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(30 * time.Second)}
	switch m.cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(m.cfg.User), gomail.WithPassword(m.cfg.Password))
	}
	return gomail.NewClient(m.cfg.Host, opts...)
}

// smtpClass is why a send failed, as the outbox records it: the SMTP step
// and code, or a class of network error; never the server's text, which
// may repeat the address.
func smtpClass(err error) string {
	var se *gomail.SendError
	if errors.As(err, &se) {
		kind := "permanent"
		if se.IsTemp() {
			kind = "temporary"
		}
		return fmt.Sprintf("smtp: %s, %s %d", se.Reason, kind, se.ErrorCode())
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "smtp: timeout"
	case errors.Is(err, context.Canceled):
		return "smtp: cancelled"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "smtp: network: " + op.Op
	}
	return "smtp: failed"
}
