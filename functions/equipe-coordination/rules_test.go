package function

import (
	"testing"

	"github.com/rdc-interop/faas/shared/problem"
)

// TestDecide walks the rule table: every kind, from each side, in each
// state a case can be in.
func TestDecide(t *testing.T) {
	open := caseState{stato: stateOpen}
	signed := caseState{stato: stateOpen, signed: true}
	closed := caseState{stato: stateShut, signed: true}
	const ok = -1
	tests := []struct {
		kind, side string
		state      caseState
		want       problem.Kind // ok: allowed
	}{
		{AzioneCPI, SideCPI, open, ok},
		{AzioneCPI, SideCPI, signed, ok},
		{AzioneCPI, SideSocial, open, problem.Forbidden},
		{AzioneCPI, SideCPI, closed, problem.Conflict},
		{Incontro, SideCPI, open, ok},
		{Incontro, SideSocial, signed, ok},
		{Incontro, SideSocial, closed, problem.Conflict},
		{Esito, SideCPI, signed, ok},
		{Esito, SideSocial, open, ok},
		{Esito, SideCPI, closed, problem.Conflict},
		{SottoscrizionePatto, SideSocial, open, ok},
		{SottoscrizionePatto, SideCPI, open, problem.Forbidden},
		{SottoscrizionePatto, SideSocial, signed, problem.Conflict}, // signed once
		{SottoscrizionePatto, SideSocial, closed, problem.Conflict},
		{Monitoraggio, SideSocial, signed, ok},
		{Monitoraggio, SideSocial, open, problem.Conflict}, // only after the signature
		{Monitoraggio, SideCPI, signed, problem.Forbidden},
		{Monitoraggio, SideSocial, closed, problem.Conflict},
		{Chiusura, SideSocial, open, ok}, // a case may end without a pact
		{Chiusura, SideSocial, signed, ok},
		{Chiusura, SideCPI, signed, problem.Forbidden},
		{Chiusura, SideSocial, closed, problem.Conflict},
		// The side is checked first: who the caller is, whatever the state.
		{AzioneCPI, SideSocial, closed, problem.Forbidden},
		{"ALTRO", SideSocial, open, problem.Invalid},
	}
	for _, tt := range tests {
		err := decide(tt.kind, tt.side, tt.state)
		switch {
		case tt.want == ok && err != nil:
			t.Errorf("%s by %s in %+v: refused: %v", tt.kind, tt.side, tt.state, err)
		case tt.want != ok && problem.KindOf(err) != tt.want:
			t.Errorf("%s by %s in %+v: %v, want kind %d", tt.kind, tt.side, tt.state, err, tt.want)
		}
	}
}

// TestNext: the signature and the closure are the only changes of state.
func TestNext(t *testing.T) {
	open := caseState{stato: stateOpen}
	for _, tt := range []struct {
		kind string
		want caseState
	}{
		{AzioneCPI, open}, {Incontro, open}, {Esito, open}, {Monitoraggio, open},
		{SottoscrizionePatto, caseState{stato: stateOpen, signed: true}},
		{Chiusura, caseState{stato: stateShut}},
	} {
		if got := next(tt.kind, open); got != tt.want {
			t.Errorf("after %s: %+v, want %+v", tt.kind, got, tt.want)
		}
	}
}

// TestRulesComplete: every kind has a rule and a side, and the listed kinds
// are the table's.
func TestRulesComplete(t *testing.T) {
	if len(kinds) != len(rules) {
		t.Fatalf("%d kinds listed, %d rules", len(kinds), len(rules))
	}
	for _, k := range kinds {
		r, ok := rules[k]
		if !ok || len(r.sides) == 0 {
			t.Errorf("kind %s has no rule or no side", k)
		}
	}
}

func TestSides(t *testing.T) {
	if sideOf("GEPI") != SideSocial || sideOf("ANPAL") != SideCPI || sideOf("INPS") != "" || sideOf("") != "" {
		t.Fatal("sideOf")
	}
	if partnerOf(SideSocial) != "ANPAL" || partnerOf(SideCPI) != "GEPI" {
		t.Fatal("partnerOf: a change is told to the other side")
	}
}
