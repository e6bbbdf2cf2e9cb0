package synth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The employment agencies (docs/domain.md#employment-agencies-on-siisl): agencies with branches, offers in
// every state, the interest beneficiaries expressed in them over the last
// six months, the agencies people chose in their PAD, and those people's
// CVs. The first two agencies and their branches are the demo
// clients' (infra/demo), so those clients find data; the others are spread
// over the provinces. Everything follows from the ids and today: no
// randomness, so two loads are identical.
//
// The amounts are small beside the households (a few hundred offers, about
// a per cent of the people as candidates), so plain INSERT … SELECT does it.
var aplSQL = []string{`
INSERT INTO apl (id, denominazione)
SELECT (1000 + g)::text, 'Agenzia per il lavoro ' || g FROM generate_series(1, @agencies) g`, `

INSERT INTO apl_filiale (codice, apl_id, denominazione, comune)
SELECT f.codice, f.apl, 'Filiale ' || f.codice, (SELECT min(codice_istat) FROM comune c WHERE c.provincia = f.prov)
FROM (VALUES ('1001-RM01', '1001', 'RM'), ('1001-MI01', '1001', 'MI'), ('1001-NA01', '1001', 'NA'),
             ('1002-TO01', '1002', 'TO'), ('1002-BO01', '1002', 'BO')) AS f (codice, apl, prov)
UNION ALL
SELECT a.id || '-' || p.provincia || '01', a.id, 'Filiale ' || a.id || '-' || p.provincia || '01', p.comune
FROM apl a
CROSS JOIN LATERAL (
    SELECT provincia, min(codice_istat) AS comune FROM comune GROUP BY provincia
    ORDER BY md5(a.id || provincia) LIMIT 2 + a.id::int % 3) p
WHERE a.id::int > 1002`,

	// Offer i of a branch: state by i % 5 (draft, published, suspended,
	// closed, published but past its end, which reads as expired).
	`
INSERT INTO offerta (id, apl_id, riferimento_apl, filiale, titolo, descrizione, comune, qualifica, tipo_contratto,
                     numero_posti, titolo_studio_minimo, stato, data_pubblicazione, data_fine_pubblicazione, creato_il, aggiornato_il)
SELECT md5(f.codice || '/' || i)::uuid, f.apl_id, 'SYN-' || f.codice || '-' || lpad(i::text, 4, '0'), f.codice,
       (ARRAY['Magazziniere', 'Addetto alle vendite', 'Operatore socio-sanitario', 'Cuoco', 'Autista',
              'Impiegato amministrativo', 'Saldatore', 'Addetto alle pulizie'])[1 + i % 8],
       'Offerta di lavoro sintetica n. ' || i || ' della filiale ' || f.codice,
       coalesce(f.comune, (SELECT min(codice_istat) FROM comune)),
       NULL, (ARRAY['tempo determinato', 'tempo indeterminato', 'apprendistato', 'part-time'])[1 + i % 4],
       1 + i % 4, (ARRAY['LICENZA_MEDIA', 'DIPLOMA', 'QUALIFICA_PROFESSIONALE', 'LAUREA', NULL])[1 + i % 5],
       (ARRAY['BOZZA', 'PUBBLICATA', 'SOSPESA', 'CHIUSA', 'PUBBLICATA'])[1 + i % 5],
       CASE WHEN i % 5 = 0 THEN NULL ELSE @today::date - (30 + i * 7 % 150) END,
       CASE i % 5 WHEN 0 THEN NULL WHEN 4 THEN @today::date - (1 + i % 20) ELSE @today::date + (10 + i % 60) END,
       @today::date - (30 + i * 7 % 150), @today::date - (i % 30)
FROM apl_filiale f CROSS JOIN generate_series(1, @offers) i`,

	// Candidates of every offer not a draft: people picked by the offer's
	// hash, over the last six months.
	`
INSERT INTO manifestazione_interesse (offerta_id, componente_id, creata_il)
SELECT o.id, m.id, @today::date - (m.id * 13 % 180) * interval '1 day' + (m.id % 86400) * interval '1 second'
FROM offerta o
CROSS JOIN LATERAL (
    SELECT id FROM componente WHERE id % 97 = abs(hashtext(o.id::text)) % 97 ORDER BY id LIMIT @candidates) m
WHERE o.stato <> 'BOZZA'`,

	// One person in twenty has signed a PAD, choosing three agencies (all
	// there are, when fewer) and a branch of each.
	`
INSERT INTO scelta_apl (componente_id, apl_id, filiale, scelta_il)
SELECT m.id, a.id, f.codice, @today::date - (m.id * 7 % 400) * interval '1 day'
FROM componente m
CROSS JOIN LATERAL (SELECT id FROM apl ORDER BY md5(m.id::text || id) LIMIT 3) a
CROSS JOIN LATERAL (SELECT codice FROM apl_filiale WHERE apl_id = a.id ORDER BY md5(m.id::text || codice) LIMIT 1) f
WHERE m.id % 20 = 0`,

	// Their CVs: a trade, past jobs and skills, in Italian (picked by id/20:
	// their ids are multiples of 20).
	`
INSERT INTO profilo (componente_id, testo, aggiornato_il)
SELECT DISTINCT ON (s.componente_id) s.componente_id,
       'Esperienza come ' || (ARRAY['magazziniere', 'commessa', 'cuoco', 'muratore', 'autista', 'badante', 'cameriere',
                                    'impiegata amministrativa', 'saldatore', 'addetto alle pulizie', 'elettricista', 'operaio metalmeccanico'])[1 + (s.componente_id / 20) % 12]
       || ' per ' || 1 + (s.componente_id / 20) % 9 || ' anni. Competenze: '
       || (ARRAY['patente B', 'patente C', 'uso del muletto', 'HACCP', 'pacchetto Office', 'contabilità', 'assistenza agli anziani',
                 'lingua inglese', 'lingua francese', 'saldatura a filo', 'impianti elettrici civili', 'vendita al banco'])[1 + (s.componente_id / 20) * 7 % 12]
       || ', ' || (ARRAY['lavoro di squadra', 'turni notturni', 'disponibilità a trasferte', 'guida di furgoni', 'cucina tradizionale',
                         'gestione del magazzino', 'relazione con il pubblico'])[1 + (s.componente_id / 20) * 3 % 7] || '.',
       @today::date - (s.componente_id % 300) * interval '1 day'
FROM scelta_apl s
ORDER BY s.componente_id`,
}

// loadAPL fills the agencies' tables; persons sizes the number of agencies.
func loadAPL(ctx context.Context, conn *pgx.Conn, persons int, today time.Time) error {
	args := pgx.NamedArgs{
		"agencies":   4 + persons/100_000, // a PAD names three, so not everyone names the same
		"offers":     15,
		"candidates": 20,
		"today":      today,
	}
	b := &pgx.Batch{}
	for _, q := range aplSQL {
		b.Queue(q, args)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("load the agencies: %w", err)
	}
	return nil
}
