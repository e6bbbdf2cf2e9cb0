package function

import "testing"

func TestQIDecoder(t *testing.T) {
	pack := func(age, cit, isee, ben, sex, month int64) int64 {
		return ((((age*3+cit)*4+isee)*5+ben)*2+sex)*100000 + month
	}
	cases := []struct {
		name   string
		packed int64
		want   qi
	}{
		{"lowest codes", pack(0, 0, 0, 0, 0, 2019*12), qi{"M", "0-4", "IT", "0-2999", "0-249", "2019-01"}},
		{"highest codes", pack(15, 2, 3, 4, 1, 2025*12+11), qi{"F", "75+", "EXTRA_UE", "9360+", "1000+", "2025-12"}},
		{"middle", pack(7, 1, 2, 3, 0, 2024*12+5), qi{"M", "35-39", "UE", "6000-9359", "750-999", "2024-06"}},
	}
	var d qiDecoder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := d.decode(c.packed)
			if err != nil || got != c.want {
				t.Fatalf("decode(%d) = %+v, %v; want %+v", c.packed, got, err, c.want)
			}
		})
	}
	for _, bad := range []int64{-1, pack(16, 0, 0, 0, 0, 0)} {
		if _, err := d.decode(bad); err == nil {
			t.Errorf("decode(%d) accepted a code out of range", bad)
		}
	}
}
