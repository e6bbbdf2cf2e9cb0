package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/rdc-interop/faas/test/harness"
)

// superUsers gives agency 1001 two enabled super users who want the report
// (one by webhook and e-mail, one by e-mail only), a disabled super and a
// master with addresses (neither is sent anything), and undoes it at the
// end. The columns are migration 023's (oauth_client.email,
// .report_webhook_url): the test checks they exist rather than make them.
func superUsers(t *testing.T, hook *string) (emailA, emailB string) {
	t.Helper()
	ctx := context.Background()
	if n := countOf(t, `SELECT count(*) FROM information_schema.columns
		WHERE table_name = 'oauth_client' AND column_name IN ('email', 'report_webhook_url')`); n != 2 {
		t.Fatalf("oauth_client has %d of the columns email, report_webhook_url", n)
	}
	emailA, emailB = "super.a@agenzia1001.test", "super.b@agenzia1001.test"
	b := &pgx.Batch{}
	b.Queue(`UPDATE oauth_client SET email = $1, report_webhook_url = $2 WHERE client_id = 'apl-1001-super'`, emailA, hook)
	b.Queue(`UPDATE oauth_client SET email = 'master@agenzia1001.test' WHERE client_id = 'apl-1001-master'`)
	b.Queue(`INSERT INTO oauth_client (client_id, nome, secret_hash, org, scopes, apl_ruolo, abilitato, email) VALUES
		    ('apl-1001-super-b', 'Super B', 'x', 'APL:1001', '{apl:report}', 'super', true, $1),
		    ('apl-1001-super-off', 'Super spento', 'x', 'APL:1001', '{apl:report}', 'super', false, 'off@agenzia1001.test')`, emailB)
	if err := h.DB.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := h.DB.Exec(context.Background(), `
			UPDATE oauth_client SET email = NULL, report_webhook_url = NULL WHERE client_id IN ('apl-1001-super', 'apl-1001-master');
			DELETE FROM oauth_client WHERE client_id IN ('apl-1001-super-b', 'apl-1001-super-off')`); err != nil {
			t.Error(err)
		}
	})
	return emailA, emailB
}

// askReport has the master make agency 1001's report of day afresh.
func askReport(t *testing.T, day string) string {
	t.Helper()
	if _, err := h.DB.Exec(context.Background(), `DELETE FROM report_apl WHERE apl_id = '1001' AND giorno = $1`, day); err != nil {
		t.Fatal(err)
	}
	r := postJSON(t, h.URL(reportFn, ""), token(t, "apl-1001-master"), map[string]any{"data": day})
	if r.status != http.StatusOK {
		t.Fatalf("report of %s: %d %s", day, r.status, r.body)
	}
	id, _ := r.json(t)["id_report"].(string)
	return id
}

// delivered waits until every e-mail and super user's webhook row of the
// report is delivered, and says how many there are.
func delivered(t *testing.T, id string) int {
	t.Helper()
	eventually(t, 30*time.Second, "the report's deliveries", func() bool {
		return countOf(t, `SELECT count(*) FROM consegna WHERE id = $1 AND destinatario LIKE 'APL:1001/%' AND stato <> 'CONSEGNATA'`, id) == 0
	})
	return countOf(t, `SELECT count(*) FROM consegna WHERE id = $1 AND destinatario LIKE 'APL:1001/%'`, id)
}

// reportMail is one e-mail as a super user receives it, parsed.
type reportMail struct {
	to, subject, messageID string
	text                   string
	attachment             string // its file name
	book                   []byte
}

// mailsOf parses the messages the SMTP server took for the report of day
// since it had taken the first since ones (earlier runs of the test send
// the same day's report again).
func mailsOf(t *testing.T, day string, since int) map[string][]reportMail {
	t.Helper()
	out := map[string][]reportMail{}
	dec := new(mime.WordDecoder)
	for _, m := range h.Mail.Received()[since:] {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("not an e-mail: %v", err)
		}
		subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(subject, " del "+day) {
			continue
		}
		if m.From != harness.MailFrom || len(m.To) != 1 {
			t.Errorf("envelope from %s to %v", m.From, m.To)
		}
		rm := reportMail{to: m.To[0], subject: subject, messageID: msg.Header.Get("Message-Id")}
		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/mixed" {
			t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
		}
		parts := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := parts.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				if body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), "")); err != nil {
					t.Fatal(err)
				}
			}
			if disp, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition")); disp == "attachment" {
				rm.attachment, rm.book = dp["filename"], body
			} else {
				rm.text += string(body)
			}
		}
		out[rm.to] = append(out[rm.to], rm)
	}
	return out
}

// TestAplReportDelivery: each enabled super user gets the day's report
// once, by e-mail with the workbook attached and by their webhook, signed;
// the agency's own webhook keeps getting its notice; a disabled super and a
// master get nothing.
func TestAplReportDelivery(t *testing.T) {
	var mu sync.Mutex
	hooks := map[string][]*http.Request{}
	bodies := map[string][][]byte{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks[r.URL.Path] = append(hooks[r.URL.Path], r)
		bodies[r.URL.Path] = append(bodies[r.URL.Path], b)
		mu.Unlock()
	}))
	defer hook.Close()
	superHook := hook.URL + "/super"
	emailA, emailB := superUsers(t, &superHook)
	ctx := context.Background()
	if _, err := h.DB.Exec(ctx, `UPDATE apl SET webhook_url = $1 WHERE id = '1001'`, hook.URL+"/agency"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := h.DB.Exec(ctx, `UPDATE apl SET webhook_url = NULL WHERE id = '1001'`); err != nil {
			t.Error(err)
		}
	}()

	day, _, _ := romeDay(9)
	since := len(h.Mail.Received())
	id := askReport(t, day)
	if n := delivered(t, id); n != 3 {
		t.Fatalf("%d deliveries to super users, want 3 (2 e-mails, 1 webhook)", n)
	}
	mails := mailsOf(t, day, since)
	if len(mails) != 2 || len(mails[emailA]) != 1 || len(mails[emailB]) != 1 {
		t.Fatalf("e-mails to %d recipients: %d to A, %d to B", len(mails), len(mails[emailA]), len(mails[emailB]))
	}
	var name string
	if err := h.DB.QueryRow(ctx, `SELECT denominazione FROM apl WHERE id = '1001'`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{emailA, emailB} {
		m := mails[addr][0]
		if want := "Report giornaliero APL " + name + " (1001) del " + day; m.subject != want {
			t.Errorf("subject %q, want %q", m.subject, want)
		}
		if m.attachment != "report-1001-"+day+".xlsx" || !strings.Contains(m.text, "Manifestazioni di interesse") {
			t.Errorf("attachment %q, text %q", m.attachment, m.text)
		}
		f, err := excelize.OpenReader(bytes.NewReader(m.book))
		if err != nil {
			t.Fatalf("the attachment is not a workbook: %v", err)
		}
		if sheets := f.GetSheetList(); sheets[0] != "Riepilogo" {
			t.Errorf("attached workbook's sheets %v", sheets)
		}
		f.Close()
	}
	if mails[emailA][0].messageID == mails[emailB][0].messageID {
		t.Error("two deliveries share a Message-ID")
	}

	// The super user's webhook and the agency's: one signed notice each, keyed by the report.
	eventually(t, 10*time.Second, "the agency's webhook", func() bool { mu.Lock(); defer mu.Unlock(); return len(hooks["/agency"]) > 0 })
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/super", "/agency"} {
		if len(hooks[path]) != 1 {
			t.Fatalf("%s: %d notices", path, len(hooks[path]))
		}
		got, body := hooks[path][0], bodies[path][0]
		if got.Header.Get("Idempotency-Key") != id {
			t.Errorf("%s: key %q, report %s", path, got.Header.Get("Idempotency-Key"), id)
		}
		if payload := verifyDocument(t, got.Header.Get("X-Rdc-Signature"), "rdc-webhook+jws"); !bytes.Equal(payload, body) {
			t.Errorf("%s: the signature covers %s, the body is %s", path, payload, body)
		}
		if !bytes.Contains(body, []byte(`"data":"`+day+`"`)) {
			t.Errorf("%s: body %s", path, body)
		}
	}
	if n := countOf(t, `SELECT count(*) FROM consegna WHERE id = $1 AND destinatario LIKE '%super-off%' OR id = $1 AND destinatario LIKE '%master%'`, id); n != 0 {
		t.Errorf("%d deliveries to a disabled super or a master", n)
	}
}

// TestAplReportEmailRetried: while the SMTP server fails, the e-mails wait
// in the outbox and are retried; once it is back, each super user gets
// theirs once. Nothing is lost, and the outbox's record of the failures
// names no address.
func TestAplReportEmailRetried(t *testing.T) {
	emailA, emailB := superUsers(t, nil)
	h.Mail.Fail(true)
	defer h.Mail.Fail(false)
	day, _, _ := romeDay(10)
	refused, since := h.Mail.Refused(), len(h.Mail.Received())
	id := askReport(t, day)
	eventually(t, 30*time.Second, "the e-mails to be refused and retried", func() bool {
		return countOf(t, `SELECT count(*) FROM consegna WHERE id = $1 AND tipo = 'REPORT_APL_EMAIL'
			AND stato = 'IN_ATTESA' AND tentativi >= 2 AND ultimo_errore LIKE 'smtp:%'`, id) == 2
	})
	if h.Mail.Refused()-refused < 4 {
		t.Errorf("the server refused %d messages", h.Mail.Refused()-refused)
	}
	if n := countOf(t, `SELECT count(*) FROM consegna WHERE id = $1 AND ultimo_errore LIKE '%@%'`, id); n != 0 {
		t.Error("an outbox error names an address")
	}
	if got := mailsOf(t, day, since); len(got) != 0 {
		t.Fatalf("e-mails taken while failing, to %d recipients", len(got))
	}
	h.Mail.Fail(false)
	if n := delivered(t, id); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
	mails := mailsOf(t, day, since)
	if len(mails) != 2 || len(mails[emailA]) != 1 || len(mails[emailB]) != 1 {
		t.Fatalf("e-mails to %d recipients: %d to A, %d to B", len(mails), len(mails[emailA]), len(mails[emailB]))
	}
}
