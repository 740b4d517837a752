package opendsr

import (
	"maps"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func TestParseEndpoints(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[privacy.Region]string
		ok   bool
	}{
		{"", map[privacy.Region]string{}, true},
		{"eu=https://api.eu.example.com/", map[privacy.Region]string{privacy.RegionEU: "https://api.eu.example.com"}, true},
		{"us=https://api.us.example.com,eu=https://api.eu.example.com/base",
			map[privacy.Region]string{privacy.RegionUS: "https://api.us.example.com", privacy.RegionEU: "https://api.eu.example.com/base"}, true},
		{"eu=http://127.0.0.1:3001", map[privacy.Region]string{privacy.RegionEU: "http://127.0.0.1:3001"}, true},
		{"eu=http://api.eu.example.com", nil, false},  // http off loopback
		{"ap=https://api.ap.example.com", nil, false}, // no such region
		{"eu=https://a.example.com,eu=https://b.example.com", nil, false},
		{"eu=https://user:pw@api.eu.example.com", nil, false}, // a credential
		{"eu=https://api.eu.example.com/?next=x", nil, false},
		{"https://api.eu.example.com", nil, false},
	} {
		got, err := ParseEndpoints(c.in)
		if (err == nil) != c.ok || c.ok && !maps.Equal(got, c.want) {
			t.Errorf("ParseEndpoints(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestMisdirectedSaysWhereToSendIt(t *testing.T) {
	for _, c := range []struct{ endpoint, want string }{
		{"https://api.eu.example.com/", "send its records and requests to https://api.eu.example.com/opendsr/v2/requests"},
		{"", "send its records and requests to the Platform's eu endpoint"},
	} {
		e := Misdirected(privacy.RegionEU, privacy.RegionUS, c.endpoint, "/opendsr/v2/requests")
		if e.Code != 421 || len(e.Errors) != 1 || e.Errors[0].Reason != "WrongRegion" ||
			e.Message != "this controller's data is kept in region eu and this endpoint serves region us: "+c.want {
			t.Errorf("Misdirected with endpoint %q: %+v", c.endpoint, e)
		}
	}
}
