package synth

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/dbtest"
)

var testToday = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

// freshDB gives the test its own migrated database (dbtest clones the run's
// migrated template, see make test).
func freshDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return dbtest.Pool(t)
}

func count(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// schemaOf lists the constraints and indexes of the loaded tables.
func schemaOf(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated
		FROM pg_constraint WHERE conrelid = ANY($1::regclass[])
		UNION ALL
		SELECT indexdef FROM pg_indexes WHERE tablename::text = ANY($2::text[])
		ORDER BY 1`, loadedTables, loadedTables)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoad(t *testing.T) {
	pool := freshDB(t)
	ctx := context.Background()
	before := schemaOf(t, pool)
	const persons = 20000
	progress := map[string]int64{}
	fx, st, err := Load(ctx, pool, Options{Persons: persons, Seed: 7, Today: testToday,
		Progress: func(table string, rows int64) { progress[table] = rows }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v", st)
	for _, table := range loadedTables {
		if n := count(t, pool, "SELECT count(*) FROM "+table); progress[table] != n {
			t.Errorf("progress reported %d rows for %s, want %d", progress[table], table, n)
		}
	}

	t.Run("agencies", func(t *testing.T) {
		// The demo clients' branches exist, offers read in every state, and
		// the candidates' interest spans months.
		if n := count(t, pool, `SELECT count(*) FROM apl_filiale WHERE codice IN ('1001-RM01', '1001-MI01', '1001-NA01', '1002-TO01', '1002-BO01')`); n != 5 {
			t.Errorf("%d of the demo branches", n)
		}
		if n := count(t, pool, `SELECT count(DISTINCT CASE WHEN stato = 'PUBBLICATA' AND data_fine_pubblicazione < $1 THEN 'SCADUTA' ELSE stato END) FROM offerta`, testToday); n != 5 {
			t.Errorf("offers in %d states, want 5", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM offerta o JOIN apl_filiale f ON f.codice = o.filiale WHERE f.apl_id <> o.apl_id`); n != 0 {
			t.Errorf("%d offers in another agency's branch", n)
		}
		if n := count(t, pool, `SELECT (extract(epoch FROM max(creata_il) - min(creata_il)) / 86400)::bigint FROM manifestazione_interesse`); n < 90 {
			t.Errorf("interest spans %d days", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id WHERE o.stato = 'BOZZA'`); n != 0 {
			t.Errorf("%d interests in drafts", n)
		}
		// A PAD names three agencies, each with a branch of its own.
		if n := count(t, pool, `SELECT count(*) FROM (SELECT componente_id FROM scelta_apl GROUP BY 1 HAVING count(*) <> 3) x`); n != 0 {
			t.Errorf("%d people chose other than three agencies", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM scelta_apl s JOIN apl_filiale f ON f.codice = s.filiale WHERE f.apl_id <> s.apl_id`); n != 0 {
			t.Errorf("%d choices of another agency's branch", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM scelta_apl`); n < persons/20*3-3 {
			t.Errorf("%d choices for %d people", n, persons)
		}
		// Everyone with a PAD has a CV, searchable in Italian: a plural finds the singular.
		if n := count(t, pool, `SELECT count(*) FROM (SELECT DISTINCT componente_id FROM scelta_apl) s LEFT JOIN profilo p USING (componente_id) WHERE p.tsv IS NULL`); n != 0 {
			t.Errorf("%d people with a PAD and no CV", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM profilo WHERE tsv @@ websearch_to_tsquery('italian', 'muratori')`); n == 0 {
			t.Error("no CV matches 'muratori'")
		}
	})

	t.Run("social benefits", func(t *testing.T) {
		// Some members have a few (n. 4), mostly where the social services
		// follow the household; every one is well formed.
		withBenefits := count(t, pool, "SELECT count(DISTINCT componente_id) FROM prestazione_sociale")
		if withBenefits < persons/20 || withBenefits > persons/4 {
			t.Errorf("%d of %d members with social benefits", withBenefits, persons)
		}
		if n := count(t, pool, `SELECT count(*) FROM (SELECT componente_id FROM prestazione_sociale GROUP BY 1 HAVING count(*) > 3) x`); n != 0 {
			t.Errorf("%d members with more than three benefits", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM (SELECT 1 FROM prestazione_sociale GROUP BY componente_id, codice_prestazione HAVING count(*) > 1) x`); n != 0 {
			t.Errorf("%d members with one type twice", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM prestazione_sociale p JOIN componente m ON m.id = p.componente_id
			WHERE p.data_inizio > $1 OR p.data_inizio < m.data_nascita OR p.data_fine > $1`, testToday); n != 0 {
			t.Errorf("%d benefits outside the member's life or in the future", n)
		}
		if n := count(t, pool, `SELECT count(DISTINCT codice_prestazione) FROM prestazione_sociale WHERE importo_mensile IS NULL`); n != 2 {
			t.Errorf("%d types in kind, want 2", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM prestazione_sociale WHERE data_fine IS NULL`); n == 0 || n == st.PrestazioniSociali {
			t.Errorf("%d of %d benefits still running", n, st.PrestazioniSociali)
		}
		var ss, other float64
		if err := pool.QueryRow(ctx, `
			SELECT avg((EXISTS (SELECT 1 FROM prestazione_sociale p WHERE p.componente_id = m.id))::int) FILTER (WHERE n.servizio_competente = 'SERVIZI_SOCIALI'),
			       avg((EXISTS (SELECT 1 FROM prestazione_sociale p WHERE p.componente_id = m.id))::int) FILTER (WHERE n.servizio_competente <> 'SERVIZI_SOCIALI')
			FROM componente m JOIN nucleo n ON n.id = m.nucleo_id`).Scan(&ss, &other); err != nil {
			t.Fatal(err)
		}
		if ss <= other {
			t.Errorf("share with benefits %.3f where the social services follow, %.3f elsewhere", ss, other)
		}
	})

	t.Run("counts", func(t *testing.T) {
		for _, c := range []struct {
			table string
			want  int64
		}{
			{"componente", persons}, {"componente", st.Persons}, {"nucleo", st.Households},
			{"did", st.DIDs}, {"sap_politica", st.Politiche}, {"patto_inclusione", st.PattiInclusione},
			{"prestazione_sociale", st.PrestazioniSociali},
		} {
			if got := count(t, pool, "SELECT count(*) FROM "+c.table); got != c.want {
				t.Errorf("%s: %d rows, want %d", c.table, got, c.want)
			}
		}
		if n := count(t, pool, "SELECT count(*) FROM comune"); n < 110 {
			t.Errorf("%d comuni, want at least 110", n)
		}
		if n := count(t, pool, "SELECT count(DISTINCT regione) FROM comune"); n != 20 {
			t.Errorf("comuni in %d regions, want 20", n)
		}
		if n := count(t, pool, `SELECT count(*) FROM (SELECT nucleo_id FROM componente GROUP BY nucleo_id
			HAVING count(*) NOT BETWEEN 1 AND 6 OR count(*) FILTER (WHERE richiedente) <> 1) x`); n != 0 {
			t.Errorf("%d households with a size outside 1..6 or not one applicant", n)
		}
		if n := count(t, pool, "SELECT count(*) FROM nucleo n WHERE NOT EXISTS (SELECT 1 FROM componente c WHERE c.nucleo_id = n.id)"); n != 0 {
			t.Errorf("%d households without members", n)
		}
	})

	t.Run("codici fiscali", func(t *testing.T) {
		rows, err := pool.Query(ctx, "SELECT codice_fiscale, cf_canonico FROM componente")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n, omo int
		for rows.Next() {
			var issued, canon string
			if err := rows.Scan(&issued, &canon); err != nil {
				t.Fatal(err)
			}
			c, err := cf.Parse(issued)
			if err != nil {
				t.Fatalf("%s does not parse: %v", issued, err)
			}
			if string(c.Canonical()) != canon {
				t.Fatalf("%s: canonical %s, stored %s", issued, c.Canonical(), canon)
			}
			if c.IsOmocode() {
				omo++
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if share := float64(omo) / float64(n); share < 0.01 || share > 0.03 {
			t.Errorf("%.1f%% omocodic codes, want about 2%%", share*100)
		}
	})

	t.Run("DID states", func(t *testing.T) {
		rows, err := pool.Query(ctx, `
			SELECT stato, count(*)::float / sum(count(*)) OVER () FROM (
				SELECT DISTINCT ON (componente_id) stato FROM did ORDER BY componente_id, data_did DESC, id DESC) l
			GROUP BY stato`)
		if err != nil {
			t.Fatal(err)
		}
		shares := map[string]float64{}
		for rows.Next() {
			var s string
			var f float64
			if err := rows.Scan(&s, &f); err != nil {
				t.Fatal(err)
			}
			shares[s] = f
		}
		for _, s := range didStates {
			if shares[s] < 0.03 {
				t.Errorf("latest DIDs in state %s: %.1f%%, want at least 3%%", s, shares[s]*100)
			}
		}
		if n := count(t, pool, "SELECT count(*) FROM (SELECT componente_id FROM did GROUP BY 1 HAVING count(*) > 1) x"); n == 0 {
			t.Error("nobody has two DIDs")
		}
		adults := count(t, pool, "SELECT count(*) FROM componente WHERE data_nascita <= $1::date - interval '18 years'", testToday)
		holders := count(t, pool, "SELECT count(DISTINCT componente_id) FROM did")
		if share := float64(holders) / float64(adults); share < 0.5 || share > 0.7 {
			t.Errorf("%.0f%% of adults hold a DID, want about 60%%", share*100)
		}
	})

	t.Run("foreign keys and schema", func(t *testing.T) {
		if after := schemaOf(t, pool); !reflect.DeepEqual(before, after) {
			t.Errorf("schema changed by the load:\nbefore %q\nafter  %q", before, after)
		}
		for _, q := range []string{
			"SELECT count(*) FROM componente c LEFT JOIN nucleo n ON n.id = c.nucleo_id WHERE n.id IS NULL",
			"SELECT count(*) FROM nucleo n LEFT JOIN comune c ON c.codice_istat = n.comune_residenza WHERE c.codice_istat IS NULL",
			"SELECT count(*) FROM did d LEFT JOIN componente c ON c.id = d.componente_id WHERE c.id IS NULL",
			"SELECT count(*) FROM sap_politica s LEFT JOIN componente c ON c.id = s.componente_id WHERE c.id IS NULL",
			"SELECT count(*) FROM patto_inclusione p LEFT JOIN nucleo n ON n.id = p.nucleo_id WHERE n.id IS NULL",
			"SELECT count(*) FROM patto_inclusione_componente x LEFT JOIN patto_inclusione p ON p.id = x.patto_id WHERE p.id IS NULL",
			"SELECT count(*) FROM patto_inclusione_componente x JOIN patto_inclusione p ON p.id = x.patto_id JOIN componente c ON c.id = x.componente_id WHERE c.nucleo_id <> p.nucleo_id",
			"SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated",
		} {
			if n := count(t, pool, q); n != 0 {
				t.Errorf("%s: %d", q, n)
			}
		}
		// The identity sequences are past the ids Load set.
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO did (componente_id, stato, data_did, data_stato, cpi) VALUES (1, 'I', $1, $1, 'CPI-RM-01')`, testToday); err != nil {
			t.Errorf("insert a DID after the load: %v", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO patto_inclusione (nucleo_id, stato, ambito) VALUES (1, 'IN_DEFINIZIONE', 'ATS-RM-01')`); err != nil {
			t.Errorf("insert a patto after the load: %v", err)
		}
	})

	t.Run("fixtures", func(t *testing.T) { checkFixtures(t, pool, fx) })
}

// checkFixtures verifies each fixture is in its situation, with SQL written
// independently of the generator.
func checkFixtures(t *testing.T, pool *pgxpool.Pool, fx Fixtures) {
	t.Helper()
	const latest = `(SELECT d.stato FROM did d WHERE d.componente_id = c.id ORDER BY d.data_did DESC, d.id DESC LIMIT 1)`
	const pattoLavoroAttivo = `EXISTS (SELECT 1 FROM sap_politica s JOIN sap_evento e ON e.codice = s.ultimo_evento
		WHERE s.componente_id = c.id AND s.codice_attivita = 'A02' AND e.sottoscritto AND NOT e.chiuso
		AND s.data_inizio <= $2 AND (s.data_fine IS NULL OR s.data_fine >= $2))`
	const pattoLavoroFirmato = `EXISTS (SELECT 1 FROM sap_politica s JOIN sap_evento e ON e.codice = s.ultimo_evento
		WHERE s.componente_id = c.id AND s.codice_attivita = 'A02' AND e.sottoscritto)`
	const inclusioneAttivo = `EXISTS (SELECT 1 FROM patto_inclusione_componente x JOIN patto_inclusione p ON p.id = x.patto_id
		WHERE x.componente_id = c.id AND p.stato = 'SOTTOSCRITTO' AND (p.data_fine IS NULL OR p.data_fine >= $2))`
	const servizio = `(SELECT servizio_competente FROM nucleo n WHERE n.id = c.nucleo_id)`
	const misto = `(SELECT bool_or(l IN ('I', 'C')) AND bool_or(l NOT IN ('I', 'C')) FROM (
		SELECT (SELECT d.stato FROM did d WHERE d.componente_id = m.id ORDER BY d.data_did DESC, d.id DESC LIMIT 1) l
		FROM componente m WHERE m.nucleo_id = c.nucleo_id) x)`
	kinds := []struct {
		name  string
		codes []string
		cond  string
	}{
		{"did_attiva", fx.DidAttiva, latest + ` IN ('I', 'C')`},
		{"did_inserita", fx.DidInserita, latest + ` = 'I'`},
		{"did_convalidata", fx.DidConvalidata, latest + ` = 'C'`},
		{"did_sospesa", fx.DidSospesa, latest + ` = 'S'`},
		{"did_revocata", fx.DidRevocata, latest + ` = 'R'`},
		{"did_annullata", fx.DidAnnullata, latest + ` = 'A'`},
		{"did_non_ammessa", fx.DidNonAmmessa, latest + ` = 'E'`},
		{"senza_did", fx.SenzaDid, `NOT EXISTS (SELECT 1 FROM did d WHERE d.componente_id = c.id)`},
		{"patto_attivo", fx.PattoAttivo, pattoLavoroAttivo},
		{"patto_non_attivo", fx.PattoNonAttivo, pattoLavoroFirmato + ` AND NOT ` + pattoLavoroAttivo},
		{"patto_inclusione_attivo", fx.PattoInclusioneAttivo, latest + ` IN ('I', 'C') AND ` + inclusioneAttivo},
		{"did_senza_patto_inclusione", fx.DidSenzaPattoInclusione, latest + ` IN ('I', 'C') AND NOT ` + inclusioneAttivo},
		{"trasferibile_cpi", fx.TrasferibileCPI, `c.da_convocare_cpi AND ` + servizio + ` IN ('NESSUNO', 'SERVIZI_SOCIALI')`},
		{"trasferibile_servizi_sociali", fx.TrasferibileServiziSociali, `c.da_convocare_comune AND ` + servizio + ` IN ('NESSUNO', 'CPI')`},
		{"nucleo_misto", fx.NucleoMisto, misto},
		{"omocodico", fx.Omocodico, `c.codice_fiscale <> c.cf_canonico`},
	}
	for _, k := range kinds {
		if len(k.codes) == 0 || len(k.codes) > FixturesPerKind {
			t.Errorf("%s: %d fixtures", k.name, len(k.codes))
		}
		for _, code := range k.codes {
			c, err := cf.Parse(code)
			if err != nil {
				t.Errorf("%s: %v", k.name, err)
				continue
			}
			q := `SELECT count(*) FROM componente c WHERE c.cf_canonico = $3 AND c.codice_fiscale = $1 AND ($2::date IS NOT NULL) AND ` + k.cond
			if n := count(t, pool, q, code, testToday, string(c.Canonical())); n != 1 {
				t.Errorf("%s: %s is not in the situation", k.name, cf.Code(code).Masked())
			}
		}
	}
	if len(fx.Sconosciuto) == 0 {
		t.Error("no sconosciuto fixtures")
	}
	for _, code := range fx.Sconosciuto {
		c, err := cf.Parse(code)
		if err != nil {
			t.Errorf("sconosciuto %s: %v", code, err)
			continue
		}
		if n := count(t, pool, "SELECT count(*) FROM componente WHERE cf_canonico = $1", string(c.Canonical())); n != 0 {
			t.Errorf("sconosciuto %s is in the data", c.Masked())
		}
	}
}

// digest sums up what a load wrote, to compare two loads.
func digest(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, q := range map[string]string{
		"componente": "SELECT md5(string_agg(codice_fiscale, ',' ORDER BY id)) FROM componente",
		"persone":    "SELECT md5(string_agg(concat_ws('|', id, nucleo_id, cognome, nome, data_nascita, comune_nascita, telefono, email, obbligato, da_convocare_cpi), ',' ORDER BY id)) FROM componente",
		"nucleo":     "SELECT md5(string_agg(concat_ws('|', id, protocollo_domanda, isee, comune_residenza, servizio_competente), ',' ORDER BY id)) FROM nucleo",
		"did":        "SELECT md5(string_agg(concat_ws('|', id, componente_id, stato, data_did, data_stato), ',' ORDER BY id)) FROM did",
		"sap":        "SELECT md5(string_agg(concat_ws('|', id, componente_id, codice_attivita, ultimo_evento, data_inizio, data_fine), ',' ORDER BY id)) FROM sap_politica",
		"patti":      "SELECT md5(string_agg(concat_ws('|', id, nucleo_id, stato, data_fine), ',' ORDER BY id)) FROM patto_inclusione",
		"pic":        "SELECT md5(string_agg(concat_ws('|', patto_id, componente_id), ',' ORDER BY patto_id, componente_id)) FROM patto_inclusione_componente",
		"prest":      "SELECT md5(string_agg(concat_ws('|', id, componente_id, codice_prestazione, ente_erogatore, importo_mensile, data_inizio, data_fine), ',' ORDER BY id)) FROM prestazione_sociale",
		"counts": `SELECT concat_ws(' ', (SELECT count(*) FROM nucleo), (SELECT count(*) FROM componente), (SELECT count(*) FROM did),
			(SELECT count(*) FROM sap_politica), (SELECT count(*) FROM patto_inclusione), (SELECT count(*) FROM patto_inclusione_componente))`,
	} {
		var s string
		if err := pool.QueryRow(context.Background(), q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

// TestDeterministic loads the same (Seed, Today) twice, with different worker
// counts and with the constraints kept in place the second time: same data.
func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	o := Options{Persons: 20000, Seed: 42, Today: testToday}
	a, b := freshDB(t), freshDB(t)
	fxA, stA, err := Load(ctx, a, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Workers, o.keepConstraints = 3, true
	fxB, stB, err := Load(ctx, b, o)
	if err != nil {
		t.Fatal(err)
	}
	stA.Elapsed, stB.Elapsed = 0, 0
	if stA != stB {
		t.Errorf("stats differ: %+v and %+v", stA, stB)
	}
	if !reflect.DeepEqual(fxA, fxB) {
		t.Error("fixtures differ")
	}
	da, db := digest(t, a), digest(t, b)
	if !reflect.DeepEqual(da, db) {
		t.Errorf("data differ:\n%v\n%v", da, db)
	}
	checkFixtures(t, b, fxB)

	// A load into a database that holds households is refused.
	if _, _, err := Load(ctx, a, o); err == nil {
		t.Error("a second load into the same database succeeded")
	}
}

// TestFailedLoad cancels a load half-way: the tables are left empty, the schema
// whole, and a new load works.
func TestFailedLoad(t *testing.T) {
	pool := freshDB(t)
	before := schemaOf(t, pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, err := Load(ctx, pool, Options{Persons: 150000, Seed: 1, Today: testToday,
		Progress: func(string, int64) { cancel() }})
	if err == nil {
		t.Fatal("the cancelled load succeeded")
	}
	if after := schemaOf(t, pool); !reflect.DeepEqual(before, after) {
		t.Errorf("schema changed by the failed load:\nbefore %q\nafter  %q", before, after)
	}
	for _, table := range loadedTables {
		if n := count(t, pool, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%s: %d rows left", table, n)
		}
	}
	if _, _, err := Load(context.Background(), pool, Options{Persons: 100, Seed: 1, Today: testToday}); err != nil {
		t.Errorf("load after the failed one: %v", err)
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	for d := day(-800000); d < 800000; d += 37 {
		y, m, dd := ymd(d)
		if got := daysFrom(y, m, dd); got != d {
			t.Fatalf("day %d: %d-%d-%d gives back %d", d, y, m, dd, got)
		}
		tm := d.time()
		if tm.Year() != y || int(tm.Month()) != m || tm.Day() != dd {
			t.Fatalf("day %d: %d-%d-%d, time says %s", d, y, m, dd, tm.Format(time.DateOnly))
		}
	}
	if got := daysFrom(2025, 13, 1); got != dayOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month 13 of 2025 is day %d", got)
	}
	b := dayOf(time.Date(2000, 3, 15, 0, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		on   time.Time
		want int
	}{
		{time.Date(2018, 3, 14, 0, 0, 0, 0, time.UTC), 17},
		{time.Date(2018, 3, 15, 0, 0, 0, 0, time.UTC), 18},
	} {
		if got := ageOn(b, dayOf(c.on)); got != c.want {
			t.Errorf("age on %s: %d, want %d", c.on.Format(time.DateOnly), got, c.want)
		}
	}
}

// TestEncoders round-trips the loader's binary encoders through the server.
func TestEncoders(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	registerFastCodecs(conn)
	// Through COPY, as the loader does: binary format.
	// (A table per check: pgx caches what a COPY's columns are by statement.)
	n := 0
	check := func(sqlType string, v any, want string) {
		t.Helper()
		n++
		table := fmt.Sprintf("enc%d", n)
		if _, err := conn.Exec(ctx, "CREATE TEMP TABLE "+table+" (v "+sqlType+")"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"v"}, pgx.CopyFromRows([][]any{{v}})); err != nil {
			t.Fatalf("%s %v: %v", sqlType, reflect.ValueOf(v).Elem(), err)
		}
		var got *string
		if err := conn.QueryRow(ctx, "SELECT v::text FROM "+table).Scan(&got); err != nil {
			t.Fatalf("%s %v: %v", sqlType, v, err)
		}
		switch {
		case got == nil && want != "NULL":
			t.Errorf("%s: NULL, want %s", sqlType, want)
		case got != nil && *got != want:
			t.Errorf("%s: %s, want %s", sqlType, *got, want)
		}
	}
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{
		{0, 2, "0.00"}, {5, 2, "0.05"}, {99, 2, "0.99"}, {100, 2, "1.00"}, {123456, 2, "1234.56"},
		{936000, 2, "9360.00"}, {1000000, 2, "10000.00"}, {100000000, 2, "1000000.00"}, {-1, 2, "NULL"},
		{0, 3, "0.000"}, {1, 3, "0.001"}, {950, 3, "0.950"}, {1000, 3, "1.000"}, {-1, 3, "NULL"},
	} {
		if c.scale == 2 {
			v := cents(c.v)
			check("numeric", &v, c.want)
		} else {
			v := permille(c.v)
			check("numeric", &v, c.want)
		}
	}
	for _, d := range []time.Time{testToday, time.Date(1931, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		v := dayOf(d)
		check("date", &v, d.Format(time.DateOnly))
	}
	nd := noDay
	check("date", &nd, "NULL")
	s, e, o := "Forlì", optText(""), optText("x")
	check("text", &s, "Forlì")
	bel := "Z129"
	check("char(4)", &bel, "Z129")
	check("text", &e, "NULL")
	check("text", &o, "x")
	i8, i2, i4, z4 := int64(1)<<40, int16(7), optInt32(12), optInt32(0)
	check("int8", &i8, "1099511627776")
	check("int2", &i2, "7")
	check("int4", &i4, "12")
	check("int4", &z4, "NULL")
	bt, bf := true, false
	check("bool", &bt, "true")
	check("bool", &bf, "false")
}

func TestPackCF(t *testing.T) {
	t.Parallel()
	a, b := packCF("RSSMRA80A01H501U"), packCF("RSSMRA80A01H502U")
	if a == b || a>>63 != 0 {
		t.Errorf("pack: %x %x", a, b)
	}
	if packCF("RSSMRA80A01H5L1U")>>63 != 1 {
		t.Error("an omocodic code is packed, not hashed")
	}
}
