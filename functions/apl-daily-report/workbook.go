package function

import (
	"bytes"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/sheet"
)

// stateOrder is how the states are listed.
var stateOrder = []string{"BOZZA", "PUBBLICATA", "SOSPESA", "CHIUSA", "SCADUTA"}

// workbook writes the report for people: the summary first, then a sheet
// per list, each with a frozen header of readable names.
func (r report) workbook() ([]byte, error) {
	b := sheet.New()
	defer b.Close()
	steps := []func() error{
		func() error {
			if err := b.Sheet("Riepilogo", []sheet.Column{{Name: "Voce", Width: 42}, {Name: "Valore", Width: 16}}); err != nil {
				return err
			}
			s := r.Riepilogo
			for _, row := range [][2]any{
				{"Agenzia", r.APL}, {"Giorno", r.Data.String()}, {"Filiali", s.Filiali},
				{"Cittadini che hanno scelto l'agenzia", s.CittadiniTotali}, {"di cui nuovi nel giorno", s.CittadiniNuovi},
				{"Manifestazioni di interesse", s.CandidatureTotali}, {"di cui nuove nel giorno", s.CandidatureNuove},
				{"Offerte pubblicate", s.OffertePubblicate}, {"Offerte in scadenza entro 7 giorni", s.OfferteInScadenza},
				{"Generato il", r.GeneratoIl.In(civil.Rome).Format("2006-01-02 15:04")},
			} {
				if err := b.Append(row[0], row[1]); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return branchSheet(b, "Cittadini per filiale", "Nuovi", r.Cittadini) },
		func() error { return branchSheet(b, "Candidature per filiale", "Nuove", r.Candidature) },
		func() error {
			if err := b.Sheet("Candidature per offerta", []sheet.Column{{Name: "Riferimento offerta", Width: 24}, {Name: "Titolo", Width: 32},
				{Name: "Filiale", Width: 14}, {Name: "Totale", Width: 10}, {Name: "Nuove", Width: 10}}); err != nil {
				return err
			}
			for _, c := range r.PerOfferta {
				if err := b.Append(c.RiferimentoAPL, c.Titolo, c.Filiale, c.Totale, c.Nuove); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if err := b.Sheet("Offerte per stato", []sheet.Column{{Name: "Stato", Width: 16}, {Name: "Offerte", Width: 10}}); err != nil {
				return err
			}
			for _, st := range stateOrder {
				if err := b.Append(st, r.OffertePerSt[st]); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if err := b.Sheet("Offerte in scadenza", []sheet.Column{{Name: "Riferimento offerta", Width: 24}, {Name: "Titolo", Width: 32},
				{Name: "Filiale", Width: 14}, {Name: "Fine pubblicazione", Width: 18}}); err != nil {
				return err
			}
			for _, e := range r.InScadenza {
				if err := b.Append(e.RiferimentoAPL, e.Titolo, e.Filiale, e.DataFinePubblicazione.String()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	if _, err := b.WriteTo(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func branchSheet(b *sheet.Workbook, name, newName string, rows []branchCount) error {
	if err := b.Sheet(name, []sheet.Column{{Name: "Filiale", Width: 16}, {Name: "Totale", Width: 10}, {Name: newName + " nel giorno", Width: 16}}); err != nil {
		return err
	}
	for _, c := range rows {
		if err := b.Append(c.Filiale, c.Totale, c.Nuovi); err != nil {
			return err
		}
	}
	return nil
}
