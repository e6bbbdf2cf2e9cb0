package synth

// Italian surnames, among the most frequent, with the spellings (apostrophes,
// spaces) a codice fiscale has to cope with.
var surnames = []string{
	"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
	"Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
	"Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani",
	"Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile",
	"Martinelli", "Vitale", "Lombardo", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti",
	"Parisi", "Villa", "Conte", "Ferraro", "Ferri", "Fabbri", "Bianco", "Marini",
	"Grasso", "Valentini", "Messina", "Sala", "De Angelis", "Gatti", "Pellegrini", "Palumbo",
	"Sanna", "Farina", "Rizzi", "Monti", "Cattaneo", "Morelli", "Amato", "Silvestri",
	"Mazza", "Testa", "Grassi", "Pellegrino", "Carbone", "Giuliani", "Benedetti", "Barone",
	"Rossetti", "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi", "Martino", "Fiore",
	"De Rosa", "Ferretti", "Bellini", "Basile", "Riva", "Donati", "Piras", "Vitali",
	"Battaglia", "Sartori", "Neri", "Costantini", "Milani", "Pagano", "Ruggiero", "Sorrentino",
	"D'Amico", "Orlando", "Damico", "Negri", "Lo Russo", "Dell'Aquila", "Cocco", "Melis",
}

var maleNames = []string{
	"Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Angelo", "Vincenzo",
	"Pietro", "Salvatore", "Carlo", "Franco", "Domenico", "Bruno", "Paolo", "Michele",
	"Giorgio", "Aldo", "Sergio", "Luciano", "Stefano", "Roberto", "Andrea", "Marco",
	"Alessandro", "Massimo", "Davide", "Luca", "Matteo", "Lorenzo", "Simone", "Riccardo",
	"Gabriele", "Federico", "Daniele", "Emanuele", "Tommaso", "Leonardo", "Edoardo", "Alessio",
	"Nicola", "Fabio", "Claudio", "Enrico", "Raffaele", "Gennaro", "Ciro", "Cosimo",
	"Rocco", "Gaetano", "Filippo", "Alberto", "Maurizio", "Fabrizio", "Gianluca", "Cristian",
	"Christian", "Diego", "Emilio", "Enzo", "Ettore", "Fausto", "Gianni", "Guido",
	"Ivan", "Jacopo", "Lucio", "Manuel", "Mattia", "Mirko", "Nicolò", "Omar",
	"Pasquale", "Renato", "Rosario", "Samuele", "Sebastiano", "Silvio", "Tiziano", "Umberto",
	"Valerio", "Vittorio", "Walter", "Ugo", "Elia", "Giacomo", "Pierluigi", "Gian Marco",
	"Carmine", "Calogero", "Dario", "Ernesto", "Felice", "Gerardo", "Ignazio", "Arturo",
}

var femaleNames = []string{
	"Maria", "Anna", "Giuseppina", "Rosa", "Angela", "Giovanna", "Teresa", "Lucia",
	"Carmela", "Caterina", "Francesca", "Antonietta", "Carla", "Elena", "Concetta", "Rita",
	"Margherita", "Franca", "Paola", "Laura", "Giulia", "Chiara", "Sara", "Federica",
	"Valentina", "Alessandra", "Silvia", "Martina", "Elisa", "Francesca Romana", "Roberta", "Simona",
	"Barbara", "Monica", "Cristina", "Daniela", "Stefania", "Patrizia", "Sabrina", "Manuela",
	"Claudia", "Alessia", "Giorgia", "Sofia", "Aurora", "Alice", "Ginevra", "Emma",
	"Beatrice", "Greta", "Noemi", "Arianna", "Camilla", "Matilde", "Vittoria", "Nicole",
	"Ilaria", "Irene", "Marta", "Veronica", "Serena", "Erika", "Debora", "Michela",
	"Luisa", "Gabriella", "Graziella", "Loredana", "Marisa", "Nadia", "Ornella", "Pina",
	"Raffaella", "Rosaria", "Sonia", "Tiziana", "Vincenza", "Assunta", "Filomena", "Immacolata",
	"Agnese", "Bianca", "Carolina", "Diana", "Eleonora", "Fabiana", "Gemma", "Ida",
	"Lara", "Letizia", "Lorena", "Miriam", "Nicoletta", "Ottavia", "Piera", "Zaira",
}

var streets = []string{
	"Via Roma", "Via Garibaldi", "Via Mazzini", "Via Cavour", "Via Dante Alighieri",
	"Via Giuseppe Verdi", "Via XX Settembre", "Via Marconi", "Via Matteotti", "Via Gramsci",
	"Corso Vittorio Emanuele II", "Corso Italia", "Viale Europa", "Viale della Repubblica",
	"Piazza della Libertà", "Via Nazionale", "Via San Francesco", "Via dei Mille", "Via Trieste",
	"Via Trento", "Via Manzoni", "Via Leopardi", "Via Carducci", "Via Pascoli", "Via Puccini",
	"Via Galileo Galilei", "Via IV Novembre", "Via Aldo Moro", "Via Papa Giovanni XXIII",
	"Via Kennedy", "Via delle Rose", "Via dei Pini", "Via Belvedere", "Via del Mare",
	"Via Fiume", "Via Vittorio Veneto", "Via Martiri della Libertà", "Via Don Minzoni",
}
