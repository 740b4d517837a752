package privacy

import "testing"

// A controller id names its region; an id issued before regions (a
// UUID) names none, whatever its first characters.
func TestIDRegion(t *testing.T) {
	for _, c := range []struct {
		id   string
		want Region
		ok   bool
	}{
		{ControllerID(RegionUS, "4e1b2c3d-0000-4000-8000-000000000001"), RegionUS, true},
		{ControllerID(RegionEU, "x"), RegionEU, true},
		{"4e1b2c3d-0000-4000-8000-000000000001", "", false},
		{"eeeeeeee-0000-4000-8000-000000000001", "", false},
		{"eu", "", false},
		{"EU-4e1b2c3d", "", false},
		{"ap-4e1b2c3d", "", false},
		{"", "", false},
	} {
		if got, ok := IDRegion(c.id); got != c.want || ok != c.ok {
			t.Errorf("IDRegion(%q) = %q, %v; want %q, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}
