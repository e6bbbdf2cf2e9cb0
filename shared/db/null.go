package db

// Null is v for a column that stores absence as NULL: nil when v is its
// type's zero value ("" or 0), else a pointer to v.
func Null[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
