package function

import (
	"fmt"
	"strconv"
)

// The generalised quasi-identifiers are computed by PostgreSQL as small
// integer codes and turned into labels here. Grouping and joining integers
// is what makes the k-anonymity pass cheap; the bands are defined once, in
// the SQL below and the labels beside it.
//
// Every SQL fragment reads the period's people through populationSQL's
// aliases (n nucleo, c comune, m componente) and named arguments (@a end of
// the period, @eu the other EU states).
const (
	ageCodeSQL         = `least(date_part('year', age(@a::date, m.data_nascita))::int / 5, 15)`
	citizenshipCodeSQL = `CASE WHEN m.cittadinanza = 'ITA' THEN 0 WHEN m.cittadinanza = ANY (@eu::text[]) THEN 1 ELSE 2 END`
	iseeCodeSQL        = `CASE WHEN n.isee < 3000 THEN 0 WHEN n.isee < 6000 THEN 1 WHEN n.isee < 9360 THEN 2 ELSE 3 END`
	benefitCodeSQL     = `CASE WHEN n.importo_beneficio < 250 THEN 0 WHEN n.importo_beneficio < 500 THEN 1
	                           WHEN n.importo_beneficio < 750 THEN 2 WHEN n.importo_beneficio < 1000 THEN 3 ELSE 4 END`
	sexCodeSQL   = `(m.sesso = 'F')::int`
	monthCodeSQL = `date_part('year', n.data_presentazione)::int * 12 + date_part('month', n.data_presentazione)::int - 1`

	// qiSQL packs every quasi-identifier but the territory into one bigint,
	// so a class is (territory, qi) and joins on two columns the planner
	// can estimate. qiDecoder reverses it.
	qiSQL = `(((((` + ageCodeSQL + `) * 3 + ` + citizenshipCodeSQL + `) * 4 + ` + iseeCodeSQL + `) * 5 + ` + benefitCodeSQL + `) * 2 + ` +
		sexCodeSQL + `)::bigint * 100000 + ` + monthCodeSQL

	// populationSQL and inPeriodSQL select every person of the period's
	// households (an application presented by its end) in the recipient's
	// territory (@region, ” for all); joins go between the two.
	populationSQL = `
FROM nucleo n
JOIN comune c ON c.codice_istat = n.comune_residenza
JOIN componente m ON m.nucleo_id = n.id`
	inPeriodSQL = `
WHERE n.data_presentazione <= @a AND (@region = '' OR c.regione = @region)`
)

var (
	ageBands         = makeAgeBands()
	citizenshipBands = []string{"IT", "UE", "EXTRA_UE"}
	iseeBands        = []string{"0-2999", "3000-5999", "6000-9359", "9360+"}
	benefitBands     = []string{"0-249", "250-499", "500-749", "750-999", "1000+"}
	sexes            = []string{"M", "F"}
)

func makeAgeBands() []string {
	b := make([]string, 16)
	for i := range 15 {
		b[i] = strconv.Itoa(i*5) + "-" + strconv.Itoa(i*5+4)
	}
	b[15] = "75+"
	return b
}

// euISO3 are the other EU member states (ISO 3166 alpha-3), for the IT / UE /
// EXTRA_UE grouping.
var euISO3 = []string{"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
	"IRL", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"}

// qi is a person's quasi-identifiers but the territory, as labels.
type qi struct {
	sex, age, citizenship, isee, benefit, month string
}

// qiDecoder turns qiSQL's integer back into labels. It keeps the month
// labels it made: a period has a few dozen, and its export millions of rows.
type qiDecoder struct{ months map[int64]string }

// decode fails on a code out of range: the SQL and the labels disagree,
// which must stop the export.
func (d *qiDecoder) decode(v int64) (qi, error) {
	month, rest := v%100000, v/100000
	sex, rest := rest%2, rest/2
	ben, rest := rest%5, rest/5
	isee, rest := rest%4, rest/4
	cit, age := rest%3, rest/3
	if v < 0 || age >= int64(len(ageBands)) {
		return qi{}, fmt.Errorf("quasi-identifier code %d out of range", v)
	}
	label, ok := d.months[month]
	if !ok {
		if d.months == nil {
			d.months = map[int64]string{}
		}
		label = fmt.Sprintf("%04d-%02d", month/12, month%12+1)
		d.months[month] = label
	}
	return qi{sex: sexes[sex], age: ageBands[age], citizenship: citizenshipBands[cit], isee: iseeBands[isee], benefit: benefitBands[ben], month: label}, nil
}
