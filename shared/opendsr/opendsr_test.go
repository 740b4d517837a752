package opendsr

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const validV2 = `{"regulation":"gdpr","subject_request_id":"a7551968-d5d6-44b2-9831-815ac9017798",
 "subject_request_type":"erasure","submitted_time":"2018-10-02T15:00:00Z",
 "subject_identities":[{"identity_type":"email","identity_value":"johndoe@example.com","identity_format":"raw"}],
 "api_version":"2.0","status_callback_urls":["https://controller.example/opendsr/callbacks"]}`

func reasons(err error) []string {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Errors {
		out = append(out, strings.SplitN(f.Message, " ", 2)[0]+":"+f.Reason)
	}
	return out
}

func TestParse(t *testing.T) {
	patch := func(field, value string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(validV2), &m)
		if value == "" {
			delete(m, field)
		} else {
			var v any
			if err := json.Unmarshal([]byte(value), &v); err != nil {
				panic(err)
			}
			m[field] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name string
		v    Version
		body string
		p    Policy
		want string // the first error, field:reason; "" for valid
	}{
		{"valid v2", V2, validV2, Policy{}, ""},
		{"v1 needs no regulation", V1, patch("regulation", ""), Policy{}, ""},
		{"v2 needs regulation", V2, patch("regulation", ""), Policy{}, "regulation:Required"},
		{"unknown regulation", V1, patch("regulation", `"lgpd"`), Policy{}, "regulation:InvalidValue"},
		{"uppercase id", V2, patch("subject_request_id", `"A7551968-D5D6-44B2-9831-815AC9017798"`), Policy{}, "subject_request_id:InvalidFormat"},
		{"uuid v1", V2, patch("subject_request_id", `"a7551968-d5d6-14b2-9831-815ac9017798"`), Policy{}, "subject_request_id:InvalidFormat"},
		{"missing id", V2, patch("subject_request_id", ""), Policy{}, "subject_request_id:Required"},
		{"rectification is not a type", V2, patch("subject_request_type", `"rectification"`), Policy{}, "subject_request_type:InvalidValue"},
		{"local time", V2, patch("submitted_time", `"2018-10-02 15:00:00"`), Policy{}, "submitted_time:InvalidFormat"},
		{"no identities", V2, patch("subject_identities", `[]`), Policy{}, "subject_identities:Required"},
		{"unknown identity type", V2, patch("subject_identities", `[{"identity_type":"phone","identity_value":"1","identity_format":"raw"}]`), Policy{}, "subject_identities[0].identity_type:InvalidValue"},
		{"unknown format", V2, patch("subject_identities", `[{"identity_type":"email","identity_value":"a@b","identity_format":"sha512"}]`), Policy{}, "subject_identities[0].identity_format:InvalidValue"},
		{"short sha256", V2, patch("subject_identities", `[{"identity_type":"email","identity_value":"abc","identity_format":"sha256"}]`), Policy{}, "subject_identities[0].identity_value:InvalidFormat"},
		{"uppercase md5", V2, patch("subject_identities", `[{"identity_type":"email","identity_value":"D41D8CD98F00B204E9800998ECF8427E","identity_format":"md5"}]`), Policy{}, "subject_identities[0].identity_value:InvalidFormat"},
		{"md5 ok", V2, patch("subject_identities", `[{"identity_type":"email","identity_value":"d41d8cd98f00b204e9800998ecf8427e","identity_format":"md5"}]`), Policy{}, ""},
		{"http callback", V2, patch("status_callback_urls", `["http://controller.example/cb"]`), Policy{}, "status_callback_urls[0]:InvalidURL"},
		{"loopback http in dev", V2, patch("status_callback_urls", `["http://127.0.0.1:9999/cb"]`), Policy{AllowInsecure: true}, ""},
		{"private address even in dev", V2, patch("status_callback_urls", `["http://10.0.0.1/cb"]`), Policy{AllowInsecure: true}, "status_callback_urls[0]:InvalidURL"},
		{"loopback http in prod", V2, patch("status_callback_urls", `["http://127.0.0.1:9999/cb"]`), Policy{}, "status_callback_urls[0]:InvalidURL"},
		{"credentials in callback", V2, patch("status_callback_urls", `["https://u:p@controller.example/cb"]`), Policy{}, "status_callback_urls[0]:InvalidURL"},
		{"not JSON", V2, `{"subject_request_id":`, Policy{}, "the:MalformedJSON"},
	}
	// Callbacks into the network this system runs in: refused by address
	// (names are resolved by the processor, and checked again at connect).
	for _, host := range []string{"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"[::1]", "[fd00::1]", "[fe80::1]", "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "100.64.0.1", "0.0.0.0",
		"[::]", "localhost", "LOCALHOST.", "api.localhost", "224.0.0.1", "[64:ff9b::a00:1]"} {
		tests = append(tests, struct {
			name string
			v    Version
			body string
			p    Policy
			want string
		}{"internal host " + host, V2, patch("status_callback_urls", `["https://`+host+`/cb"]`), Policy{}, "status_callback_urls[0]:InvalidURL"})
	}
	for _, tc := range tests {
		_, err := Parse(tc.v, []byte(tc.body), tc.p)
		got := ""
		if r := reasons(err); len(r) > 0 {
			got = r[0]
		} else if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: first error %q, want %q (all: %v)", tc.name, got, tc.want, reasons(err))
		}
	}
	// Every problem at once, and no identity value echoed.
	_, err := Parse(V2, []byte(`{"subject_identities":[{"identity_type":"email","identity_value":"secret@example.com","identity_format":"md5"}]}`), Policy{})
	var e *Error
	if !errors.As(err, &e) || len(e.Errors) != 5 || e.Code != 400 || strings.Contains(string(e.Body()), "secret@") {
		t.Fatalf("all errors: %s", e.Body())
	}
	if !strings.HasPrefix(string(e.Body()), `{"error":{"code":400,`) {
		t.Fatalf("error body shape: %s", e.Body())
	}
}

func TestSignAndVerify(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	s, err := NewSigner(pemKey, "opendsr.example.com")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"controller_id":"c1","request_status":"pending"}`)
	h, err := s.Headers(V1, body)
	if err != nil {
		t.Fatal(err)
	}
	if h["X-OpenGDPR-Signature"] == "" || h["X-OpenGDPR-Signature"] != h["X-OpenDSR-Signature"] || h["X-OpenDSR-Processor-Domain"] != "opendsr.example.com" {
		t.Fatalf("v1 headers: %v", h)
	}
	if err := Verify(s.Public(), body, h["X-OpenDSR-Signature"]); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := Verify(s.Public(), append(body, ' '), h["X-OpenDSR-Signature"]); err == nil {
		t.Fatal("a changed body verified")
	}
	if h2, _ := s.Headers(V2, body); h2["X-OpenGDPR-Signature"] != "" {
		t.Fatal("v2 responses carry the OpenDSR headers only")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := NewSigner(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}), "d"); err == nil {
		t.Fatal("a 1024-bit key was accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validV2), true)
	f.Add([]byte(`{"subject_identities":[{}],"status_callback_urls":["::"]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, v2 bool) {
		v := V1
		if v2 {
			v = V2
		}
		r, err := Parse(v, body, Policy{AllowInsecure: true})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != 400 {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if !ValidID(r.SubjectRequestID) || len(r.Identities) == 0 || (v == V2 && r.Regulation == "") {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func TestPublicAddr(t *testing.T) {
	for _, a := range []string{"8.8.8.8", "203.0.114.1", "2606:4700::1111", "1.1.1.1"} {
		if !PublicAddr(netip.MustParseAddr(a), false) {
			t.Errorf("%s refused", a)
		}
	}
	if !PublicAddr(netip.MustParseAddr("127.0.0.1"), true) || PublicAddr(netip.MustParseAddr("127.0.0.1"), false) {
		t.Error("loopback only when allowed")
	}
}
