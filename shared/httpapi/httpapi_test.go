package httpapi

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func req(ct, body string) Request {
	r := Request{Body: body, Headers: map[string]string{}}
	if ct != "" {
		r.Headers["content-type"] = ct
	}
	return r
}

func TestDecodeInput(t *testing.T) {
	big := strings.Repeat("a", MaxBody+1)
	tests := []struct {
		name   string
		r      Request
		status int // 0: decodes
	}{
		{"json", req("application/json", `{"name":"Ann"}`), 0},
		{"json with charset", req("application/json; charset=utf-8", `{"name":"Ann"}`), 0},
		{"form", req("application/x-www-form-urlencoded", "name=Ann&email=a%40b.c"), 0},
		{"base64 json", Request{Body: base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)), Base64: true,
			Headers: map[string]string{"content-type": "application/json"}}, 0},
		{"malformed json", req("application/json", `{"name":`), 400},
		{"json array", req("application/json", `["a"]`), 400},
		{"json null", req("application/json", `null`), 400},
		{"two json values", req("application/json", `{} {}`), 400},
		{"text/plain", req("text/plain", "name=Ann"), 415},
		{"no content type", req("", `{}`), 415},
		{"bad content type", req(";;", `{}`), 415},
		{"multipart", req("multipart/form-data; boundary=x", "--x--"), 415},
		{"too large", req("application/json", big), 413},
		{"too large base64", Request{Body: base64.StdEncoding.EncodeToString([]byte(big)), Base64: true,
			Headers: map[string]string{"content-type": "application/json"}}, 413},
		{"bad base64", Request{Body: "!!!", Base64: true, Headers: map[string]string{"content-type": "application/json"}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeInput(tt.r)
			if tt.status == 0 {
				if err != nil || in == nil {
					t.Fatalf("got %v, %v", in, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status {
				t.Fatalf("got %v, want status %d", err, tt.status)
			}
		})
	}
}

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                 false,
		"application/json": false,
		"text/html":        true,
		"text/html,application/xhtml+xml,*/*;q=0.8": true,
		"application/json, text/html":               false,
		"*/*":                                       false,
	} {
		r := Request{Headers: map[string]string{"accept": accept}}
		if got := WantsHTML(r); got != want {
			t.Errorf("Accept %q: got %v", accept, got)
		}
	}
}

func FuzzDecodeInput(f *testing.F) {
	for _, s := range []string{`{"name":"Ann"}`, `[]`, `{"a":{"b":[1,2]}}`, "name=Ann&x=%zz", ``} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, isJSON bool) {
		ct := "application/x-www-form-urlencoded"
		if isJSON {
			ct = "application/json"
		}
		in, err := DecodeInput(req(ct, body))
		if err == nil && in == nil {
			t.Fatal("nil input without error")
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status >= 500) {
			t.Fatalf("bad input must give a 4xx, got %v", err)
		}
	})
}
