package synth

// comune is one row of the comune reference table plus what the generator
// needs to place households in it.
type comune struct {
	istat    string // ISTAT code of the comune, 6 digits (province code + progressive)
	belfiore string // cadastral (Belfiore) code, the place part of a codice fiscale
	nome     string
	prov     string // province sigla
	regione  string // ISTAT region code, 01..20
	cap      string // a postal code of the comune
	pop      int    // residents, thousands (rough): weights where households live
}

// comuni are the provincial capitals (one per province; for Barletta-Andria-Trani
// all three) and a few other comuni, spread over all 20 regions. Codes are the
// ISTAT and Agenzia delle Entrate ones as of 2024. The Sardinian provinces created
// in 2016 and 2025 (Sud Sardegna, Gallura, Ogliastra, Medio Campidano, Sulcis) are
// left out: their comuni have changed codes more than once.
var comuni = []comune{
	// 01 Piemonte
	{"001272", "L219", "Torino", "TO", "01", "10121", 850},
	{"002158", "L750", "Vercelli", "VC", "01", "13100", 46},
	{"003106", "F952", "Novara", "NO", "01", "28100", 102},
	{"004078", "D205", "Cuneo", "CN", "01", "12100", 56},
	{"005005", "A479", "Asti", "AT", "01", "14100", 74},
	{"006003", "A182", "Alessandria", "AL", "01", "15121", 91},
	{"096004", "A859", "Biella", "BI", "01", "13900", 43},
	{"103072", "L746", "Verbania", "VB", "01", "28921", 30},
	{"001292", "L727", "Venaria Reale", "TO", "01", "10078", 33},
	// 02 Valle d'Aosta
	{"007003", "A326", "Aosta", "AO", "02", "11100", 33},
	// 03 Lombardia
	{"012133", "L682", "Varese", "VA", "03", "21100", 79},
	{"013075", "C933", "Como", "CO", "03", "22100", 83},
	{"014061", "I829", "Sondrio", "SO", "03", "23100", 21},
	{"015146", "F205", "Milano", "MI", "03", "20121", 1370},
	{"016024", "A794", "Bergamo", "BG", "03", "24121", 120},
	{"017029", "B157", "Brescia", "BS", "03", "25121", 197},
	{"018110", "G388", "Pavia", "PV", "03", "27100", 71},
	{"019036", "D150", "Cremona", "CR", "03", "26100", 71},
	{"020030", "E897", "Mantova", "MN", "03", "46100", 49},
	{"097042", "E507", "Lecco", "LC", "03", "23900", 47},
	{"098031", "E648", "Lodi", "LO", "03", "26900", 45},
	{"108033", "F704", "Monza", "MB", "03", "20900", 123},
	// 04 Trentino-Alto Adige
	{"021008", "A952", "Bolzano", "BZ", "04", "39100", 107},
	{"022205", "L378", "Trento", "TN", "04", "38122", 118},
	// 05 Veneto
	{"023091", "L781", "Verona", "VR", "05", "37121", 255},
	{"024116", "L840", "Vicenza", "VI", "05", "36100", 110},
	{"025006", "A757", "Belluno", "BL", "05", "32100", 35},
	{"026086", "L407", "Treviso", "TV", "05", "31100", 85},
	{"027042", "L736", "Venezia", "VE", "05", "30124", 250},
	{"028060", "G224", "Padova", "PD", "05", "35121", 208},
	{"029041", "H620", "Rovigo", "RO", "05", "45100", 50},
	// 06 Friuli-Venezia Giulia
	{"030129", "L483", "Udine", "UD", "06", "33100", 97},
	{"031007", "E098", "Gorizia", "GO", "06", "34170", 34},
	{"032006", "L424", "Trieste", "TS", "06", "34121", 200},
	{"093033", "G888", "Pordenone", "PN", "06", "33170", 51},
	// 07 Liguria
	{"008031", "E290", "Imperia", "IM", "07", "18100", 42},
	{"009056", "I480", "Savona", "SV", "07", "17100", 59},
	{"010025", "D969", "Genova", "GE", "07", "16121", 560},
	{"011015", "E463", "La Spezia", "SP", "07", "19121", 92},
	// 08 Emilia-Romagna
	{"033032", "G535", "Piacenza", "PC", "08", "29121", 103},
	{"034027", "G337", "Parma", "PR", "08", "43121", 196},
	{"035033", "H223", "Reggio nell'Emilia", "RE", "08", "42121", 170},
	{"036023", "F257", "Modena", "MO", "08", "41121", 185},
	{"037006", "A944", "Bologna", "BO", "08", "40121", 390},
	{"038008", "D548", "Ferrara", "FE", "08", "44121", 130},
	{"039014", "H199", "Ravenna", "RA", "08", "48121", 156},
	{"040012", "D704", "Forlì", "FC", "08", "47121", 117},
	{"040007", "C573", "Cesena", "FC", "08", "47521", 96},
	{"099014", "H294", "Rimini", "RN", "08", "47921", 150},
	// 09 Toscana
	{"045010", "F023", "Massa", "MS", "09", "54100", 68},
	{"045003", "B832", "Carrara", "MS", "09", "54033", 60},
	{"046017", "E715", "Lucca", "LU", "09", "55100", 89},
	{"047014", "G713", "Pistoia", "PT", "09", "51100", 90},
	{"048017", "D612", "Firenze", "FI", "09", "50122", 360},
	{"049009", "E625", "Livorno", "LI", "09", "57121", 153},
	{"050026", "G702", "Pisa", "PI", "09", "56121", 90},
	{"051002", "A390", "Arezzo", "AR", "09", "52100", 97},
	{"052032", "I726", "Siena", "SI", "09", "53100", 53},
	{"053011", "E202", "Grosseto", "GR", "09", "58100", 81},
	{"100005", "G999", "Prato", "PO", "09", "59100", 196},
	// 10 Umbria
	{"054039", "G478", "Perugia", "PG", "10", "06121", 162},
	{"055032", "L117", "Terni", "TR", "10", "05100", 106},
	{"054001", "A475", "Assisi", "PG", "10", "06081", 28},
	// 11 Marche
	{"041044", "G479", "Pesaro", "PU", "11", "61121", 95},
	{"041067", "L500", "Urbino", "PU", "11", "61029", 14},
	{"042002", "A271", "Ancona", "AN", "11", "60121", 99},
	{"043023", "E783", "Macerata", "MC", "11", "62100", 41},
	{"044007", "A462", "Ascoli Piceno", "AP", "11", "63100", 46},
	{"109006", "D542", "Fermo", "FM", "11", "63900", 36},
	// 12 Lazio
	{"056059", "M082", "Viterbo", "VT", "12", "01100", 66},
	{"057059", "H282", "Rieti", "RI", "12", "02100", 46},
	{"058091", "H501", "Roma", "RM", "12", "00184", 2750},
	{"058104", "L182", "Tivoli", "RM", "12", "00019", 52},
	{"059011", "E472", "Latina", "LT", "12", "04100", 127},
	{"060038", "D810", "Frosinone", "FR", "12", "03100", 43},
	// 13 Abruzzo
	{"066049", "A345", "L'Aquila", "AQ", "13", "67100", 69},
	{"067041", "L103", "Teramo", "TE", "13", "64100", 52},
	{"068028", "G482", "Pescara", "PE", "13", "65121", 118},
	{"069022", "C632", "Chieti", "CH", "13", "66100", 49},
	// 14 Molise
	{"070006", "B519", "Campobasso", "CB", "14", "86100", 48},
	{"094023", "E335", "Isernia", "IS", "14", "86170", 21},
	{"094052", "L725", "Venafro", "IS", "14", "86079", 11},
	// 15 Campania
	{"061022", "B963", "Caserta", "CE", "15", "81100", 73},
	{"062008", "A783", "Benevento", "BN", "15", "82100", 57},
	{"063049", "F839", "Napoli", "NA", "15", "80132", 915},
	{"063058", "G813", "Pompei", "NA", "15", "80045", 25},
	{"064008", "A509", "Avellino", "AV", "15", "83100", 52},
	{"065116", "H703", "Salerno", "SA", "15", "84121", 127},
	// 16 Puglia
	{"071024", "D643", "Foggia", "FG", "16", "71121", 146},
	{"072006", "A662", "Bari", "BA", "16", "70122", 316},
	{"073027", "L049", "Taranto", "TA", "16", "74121", 189},
	{"074001", "B180", "Brindisi", "BR", "16", "72100", 83},
	{"075035", "E506", "Lecce", "LE", "16", "73100", 94},
	{"110001", "A285", "Andria", "BT", "16", "76123", 98},
	{"110002", "A669", "Barletta", "BT", "16", "76121", 93},
	{"110009", "L328", "Trani", "BT", "16", "76125", 55},
	// 17 Basilicata
	{"076063", "G942", "Potenza", "PZ", "17", "85100", 64},
	{"077014", "F052", "Matera", "MT", "17", "75100", 60},
	// 18 Calabria
	{"078045", "D086", "Cosenza", "CS", "18", "87100", 64},
	{"079023", "C352", "Catanzaro", "CZ", "18", "88100", 85},
	{"080063", "H224", "Reggio di Calabria", "RC", "18", "89123", 172},
	{"101010", "D122", "Crotone", "KR", "18", "88900", 60},
	{"102047", "F537", "Vibo Valentia", "VV", "18", "89900", 31},
	// 19 Sicilia
	{"081021", "L331", "Trapani", "TP", "19", "91100", 66},
	{"082053", "G273", "Palermo", "PA", "19", "90138", 635},
	{"082049", "F377", "Monreale", "PA", "19", "90046", 39},
	{"083048", "F158", "Messina", "ME", "19", "98121", 220},
	{"084001", "A089", "Agrigento", "AG", "19", "92100", 55},
	{"085004", "B429", "Caltanissetta", "CL", "19", "93100", 60},
	{"086009", "C342", "Enna", "EN", "19", "94100", 25},
	{"087015", "C351", "Catania", "CT", "19", "95121", 300},
	{"088009", "H163", "Ragusa", "RG", "19", "97100", 73},
	{"089017", "I754", "Siracusa", "SR", "19", "96100", 117},
	// 20 Sardegna
	{"090064", "I452", "Sassari", "SS", "20", "07100", 122},
	{"091051", "F979", "Nuoro", "NU", "20", "08100", 34},
	{"092009", "B354", "Cagliari", "CA", "20", "09121", 149},
	{"095038", "G113", "Oristano", "OR", "20", "09170", 31},
}

// foreignPlace is a country of birth or citizenship abroad, with the names its
// citizens are given in the synthetic data.
type foreignPlace struct {
	cittadinanza string // ISO 3166 alpha-3
	belfiore     string // Z code of the country
	eu           bool
	weight       int
	surnames     []string
	male         []string
	female       []string
}

// foreign are the most frequent citizenships of foreign residents in Italy.
var foreign = []foreignPlace{
	{"ROU", "Z129", true, 30,
		[]string{"Popescu", "Ionescu", "Popa", "Stan", "Dumitru", "Constantin", "Munteanu", "Stoica"},
		[]string{"Andrei", "Ion", "Mihai", "Alexandru", "Gheorghe", "Florin", "Marius", "Cristian"},
		[]string{"Elena", "Ioana", "Maria", "Andreea", "Mihaela", "Ana", "Gabriela", "Daniela"}},
	{"BGR", "Z104", true, 3,
		[]string{"Ivanov", "Georgiev", "Dimitrov", "Petrov", "Nikolov"},
		[]string{"Georgi", "Ivan", "Dimitar", "Nikolay", "Petar"},
		[]string{"Maria", "Ivanka", "Elena", "Yordanka", "Desislava"}},
	{"POL", "Z127", true, 4,
		[]string{"Nowak", "Kowalski", "Wisniewski", "Kaminski", "Lewandowski"},
		[]string{"Piotr", "Krzysztof", "Tomasz", "Pawel", "Marek"},
		[]string{"Anna", "Katarzyna", "Malgorzata", "Agnieszka", "Barbara"}},
	{"DEU", "Z112", true, 2,
		[]string{"Muller", "Schmidt", "Schneider", "Fischer", "Weber"},
		[]string{"Thomas", "Michael", "Stefan", "Andreas", "Markus"},
		[]string{"Sabine", "Petra", "Claudia", "Susanne", "Monika"}},
	{"FRA", "Z110", true, 1,
		[]string{"Martin", "Bernard", "Dubois", "Durand", "Lefebvre"},
		[]string{"Pierre", "Jean", "Nicolas", "Julien", "Philippe"},
		[]string{"Marie", "Nathalie", "Isabelle", "Sophie", "Camille"}},
	{"MAR", "Z330", false, 18,
		[]string{"El Idrissi", "Benali", "Alaoui", "El Amrani", "Bennani", "Tazi", "Chraibi", "Ouali"},
		[]string{"Mohamed", "Youssef", "Ahmed", "Rachid", "Abdel", "Said", "Hicham", "Karim"},
		[]string{"Fatima", "Khadija", "Amina", "Naima", "Zineb", "Samira", "Latifa", "Hanane"}},
	{"ALB", "Z100", false, 16,
		[]string{"Hoxha", "Shehu", "Gashi", "Krasniqi", "Berisha", "Dervishi", "Leka", "Kola"},
		[]string{"Arben", "Besnik", "Ermal", "Gentian", "Artan", "Ilir", "Fatmir", "Dritan"},
		[]string{"Elira", "Anila", "Blerta", "Mirela", "Entela", "Jonida", "Valbona", "Lindita"}},
	{"CHN", "Z210", false, 8,
		[]string{"Chen", "Wang", "Zhou", "Hu", "Lin", "Zhang", "Li", "Huang"},
		[]string{"Wei", "Jun", "Hao", "Yong", "Ming", "Qiang", "Jie", "Lei"},
		[]string{"Mei", "Li", "Xiu", "Fang", "Ying", "Hui", "Jing", "Yan"}},
	{"UKR", "Z138", false, 9,
		[]string{"Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk", "Boyko"},
		[]string{"Oleksandr", "Andriy", "Serhiy", "Volodymyr", "Mykola", "Yuriy", "Vasyl"},
		[]string{"Olena", "Oksana", "Iryna", "Nataliya", "Tetyana", "Svitlana", "Halyna"}},
	{"TUN", "Z352", false, 4,
		[]string{"Ben Salah", "Trabelsi", "Jebali", "Gharbi", "Mejri"},
		[]string{"Mohamed", "Ali", "Sami", "Nabil", "Walid"},
		[]string{"Amel", "Sonia", "Leila", "Ines", "Rim"}},
	{"EGY", "Z336", false, 4,
		[]string{"Mohamed", "Hassan", "Ibrahim", "Mahmoud", "Abdelrahman"},
		[]string{"Ahmed", "Mostafa", "Mahmoud", "Tarek", "Amr"},
		[]string{"Mona", "Heba", "Nour", "Yasmin", "Dina"}},
	{"IND", "Z222", false, 4,
		[]string{"Singh", "Kumar", "Sharma", "Kaur", "Patel"},
		[]string{"Harpreet", "Gurpreet", "Rajesh", "Sunil", "Amit"},
		[]string{"Manpreet", "Sunita", "Priya", "Kiran", "Pooja"}},
	{"BGD", "Z249", false, 4,
		[]string{"Hossain", "Rahman", "Islam", "Ahmed", "Uddin"},
		[]string{"Mohammad", "Abdul", "Rafiq", "Kamal", "Shahid"},
		[]string{"Nasrin", "Fatema", "Rokeya", "Shirin", "Ayesha"}},
	{"PAK", "Z236", false, 4,
		[]string{"Khan", "Ali", "Hussain", "Iqbal", "Butt"},
		[]string{"Imran", "Asif", "Bilal", "Usman", "Tariq"},
		[]string{"Sana", "Ayesha", "Fatima", "Saima", "Nadia"}},
	{"PHL", "Z216", false, 4,
		[]string{"Santos", "Reyes", "Cruz", "Bautista", "Garcia"},
		[]string{"Jose", "Mark", "Ramon", "Rodel", "Jun"},
		[]string{"Maricel", "Rosalie", "Jocelyn", "Lorna", "Grace"}},
	{"SEN", "Z343", false, 3,
		[]string{"Diop", "Ndiaye", "Fall", "Sarr", "Gueye"},
		[]string{"Mamadou", "Moussa", "Cheikh", "Ousmane", "Ibrahima"},
		[]string{"Fatou", "Aminata", "Awa", "Mariama", "Khady"}},
	{"MDA", "Z140", false, 4,
		[]string{"Rusu", "Ceban", "Ciobanu", "Turcan", "Lungu"},
		[]string{"Ion", "Vasile", "Sergiu", "Victor", "Igor"},
		[]string{"Natalia", "Tatiana", "Svetlana", "Olga", "Lilia"}},
	{"LKA", "Z209", false, 3,
		[]string{"Perera", "Fernando", "Silva", "De Silva", "Jayasinghe"},
		[]string{"Nuwan", "Chaminda", "Ruwan", "Sanjeewa", "Kasun"},
		[]string{"Dilani", "Chamari", "Nadeesha", "Shiromi", "Ishara"}},
}

// abroadItalians are countries where Italian citizens in the data were born.
var abroadItalians = []string{"Z112", "Z133", "Z110", "Z103", "Z600", "Z614"} // Germany, Switzerland, France, Belgium, Argentina, Venezuela
