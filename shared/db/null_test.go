package db

import "testing"

func TestNull(t *testing.T) {
	t.Parallel()
	if Null("") != nil || Null(int64(0)) != nil {
		t.Fatal("a zero value is not NULL")
	}
	if p := Null("x"); p == nil || *p != "x" {
		t.Fatalf("Null(%q) = %v", "x", p)
	}
	if p := Null(int64(7)); p == nil || *p != 7 {
		t.Fatalf("Null(7) = %v", p)
	}
}
