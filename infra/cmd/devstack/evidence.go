package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rdc-interop/faas/infra/demo"
)

// evidence prints a tracking evidence (Agid-JWT-TrackingEvidence) of a demo
// client's operator, signed with the client's key from .local/clients.json,
// as the partner platform's gateway would add it to each call.
func evidence(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("evidence", flag.ContinueOnError)
	client := fs.String("client", "gepi-operatori", "the demo client whose operator calls")
	user := fs.String("user", "OPR0001", "the operator's id (userID)")
	role := fs.String("role", "CASE_MANAGER", "the operator's role: CASE_MANAGER, COORDINATORE_PATTO, AMMINISTRATORE_AMBITO, OPERATORE_CPI, …")
	location := fs.String("location", "ATS-Milano", "the operator's office (userLocation)")
	loa := fs.String("loa", "LoA3", "the level of assurance of the operator's login")
	ttl := fs.Duration("ttl", 5*time.Minute, "how long the evidence is valid (at most 10m)")
	file := fs.String("clients", filepath.Join(".local", "clients.json"), "the clients file make up writes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read the demo clients (run make up first): %w", err)
	}
	var cf demo.ClientsFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	for _, c := range cf.Clients {
		if c.ClientID != *client {
			continue
		}
		ev, err := demo.Evidence(c, cf.Audience, demo.Operator{UserID: *user, Location: *location, LoA: *loa, Role: *role, TTL: *ttl})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, ev)
		return err
	}
	return fmt.Errorf("no client %s in %s", *client, *file)
}
