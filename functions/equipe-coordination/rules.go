package function

import (
	"github.com/rdc-interop/faas/shared/problem"
)

// Sides of an Equipe, as the household's service is spelled
// (nucleo.servizio_competente): the job centres (ANPAL's platform) and the
// Comuni's social services (GePI's).
const (
	SideCPI    = "CPI"
	SideSocial = "SERVIZI_SOCIALI"
)

// sideOf is the side an organisation's client speaks for; "" for any other.
func sideOf(org string) string {
	switch org {
	case "ANPAL":
		return SideCPI
	case "GEPI":
		return SideSocial
	}
	return ""
}

// partnerOf is the platform that hears of a change made by side: the other one.
func partnerOf(side string) string {
	if side == SideSocial {
		return "ANPAL"
	}
	return "GEPI"
}

// Kinds of event (equipe_evento.tipo).
const (
	AzioneCPI            = "AZIONE_CPI"           // a CPI action inside the pact
	Incontro             = "INCONTRO"             // a meeting of the Equipe or with the household
	Esito                = "ESITO"                // an outcome (of an action, a meeting, a check)
	SottoscrizionePatto  = "SOTTOSCRIZIONE_PATTO" // the Patto per l'inclusione sociale is signed
	Monitoraggio         = "MONITORAGGIO"         // a monitoring step of the signed pact
	Chiusura             = "CHIUSURA"             // the case ends
	stateOpen, stateShut = "APERTO", "CHIUSO"
)

// pact is what a kind asks of the pact's signature.
type pact int

const (
	anyPact  pact = iota
	unsigned      // only before the signature (it is signed once)
	signed        // only once it is signed
)

// rule is who may add a kind of event and when.
type rule struct {
	sides      []string // the sides that may add it
	pact       pact     // what it asks of the signature
	signs      bool     // it records the signature
	closes     bool     // it ends the case
	needsEsito bool     // it must say the outcome
}

// rules is the one table of the exchange's events (docs/equipe.md#events):
// each side adds what it does, GePI, which runs the pact, signs, monitors
// and closes it. A case once closed takes nothing more.
var rules = map[string]rule{
	AzioneCPI:           {sides: []string{SideCPI}},
	Incontro:            {sides: []string{SideCPI, SideSocial}},
	Esito:               {sides: []string{SideCPI, SideSocial}, needsEsito: true},
	SottoscrizionePatto: {sides: []string{SideSocial}, pact: unsigned, signs: true},
	Monitoraggio:        {sides: []string{SideSocial}, pact: signed},
	Chiusura:            {sides: []string{SideSocial}, closes: true},
}

// kinds in the order the documentation lists them.
var kinds = []string{AzioneCPI, Incontro, Esito, SottoscrizionePatto, Monitoraggio, Chiusura}

// caseState is what the rules look at.
type caseState struct {
	stato  string // APERTO or CHIUSO
	signed bool   // the pact's signature is recorded
}

// decide says whether side may add an event of kind to a case in state s:
// nil, or the refusal. The wrong side is a 403 (who the caller is, whatever
// the case's state); an event the case's state does not allow is a 409.
// kind is one of rules' (the request was checked).
func decide(kind, side string, s caseState) error {
	r, ok := rules[kind]
	if !ok {
		return problem.Field("tipo", "invalid", "not a kind of Equipe event")
	}
	allowed := false
	for _, sd := range r.sides {
		allowed = allowed || sd == side
	}
	switch {
	case !allowed:
		return problem.Newf(problem.Forbidden, "an event %s is added by %s only", kind, sideNames(r.sides))
	case s.stato != stateOpen:
		return problem.New(problem.Conflict, "the case is closed: it takes no more events")
	case r.pact == unsigned && s.signed:
		return problem.New(problem.Conflict, "the pact's signature is already recorded")
	case r.pact == signed && !s.signed:
		return problem.Newf(problem.Conflict, "an event %s comes after the pact's signature (%s)", kind, SottoscrizionePatto)
	}
	return nil
}

// next is the state after an event of kind, allowed by decide.
func next(kind string, s caseState) caseState {
	r := rules[kind]
	if r.signs {
		s.signed = true
	}
	if r.closes {
		s.stato = stateShut
	}
	return s
}

func sideNames(sides []string) string {
	if len(sides) != 1 {
		return "either side"
	}
	if sides[0] == SideCPI {
		return "the job centres' side (ANPAL)"
	}
	return "the social services' side (GePI)"
}
