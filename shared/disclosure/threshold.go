package disclosure

// Threshold is the smallest count a published cell may show (Sistan ethical
// rules, art. 5): a cell counting 1 or 2 units is withheld.
const Threshold = 3
