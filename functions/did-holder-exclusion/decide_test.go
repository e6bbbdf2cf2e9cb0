package function

import "testing"

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		f      facts
		call   bool
		motivo string
	}{
		{"active DID, no pact: called in", facts{DidAttiva: true}, true, ""},
		{"active DID, beneficiary: excluded", facts{DidAttiva: true, Beneficiario: true}, false, MotivoPattoInclusione},
		{"no active DID: nobody to call", facts{}, false, MotivoSenzaDid},
		{"beneficiary without DID: the pact is the reason", facts{Beneficiario: true}, false, MotivoPattoInclusione},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, motivo := decide(tt.f)
			got := ""
			if motivo != nil {
				got = *motivo
			}
			if call != tt.call || got != tt.motivo {
				t.Fatalf("decide = %v %q, want %v %q", call, got, tt.call, tt.motivo)
			}
			if call && motivo != nil {
				t.Fatal("motivo must be null when da_convocare is true")
			}
		})
	}
}
