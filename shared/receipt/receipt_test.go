package receipt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

const seed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

func signer(t *testing.T, secret string) *receipt.Signer {
	t.Helper()
	s, err := receipt.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwks is the key set as the route serves it, read back by go-jose.
func jwks(t *testing.T, signers ...*receipt.Signer) (receipt.JWKS, jose.JSONWebKeySet) {
	t.Helper()
	var pub []privacy.PublishedKey
	for _, s := range signers {
		p, err := s.Published(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pub = append(pub, p)
	}
	set, err := receipt.KeySet(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(set)
	var js jose.JSONWebKeySet
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("go-jose cannot read our JWKS %s: %v", b, err)
	}
	return set, js
}

func joseVerify(t *testing.T, token string, set jose.JSONWebKeySet) ([]byte, error) {
	t.Helper()
	sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, err
	}
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return nil, errors.New("key not in the set")
	}
	return sig.Verify(keys[0])
}

func TestSignedReceiptVerifiesWithAStandardLibrary(t *testing.T) {
	s := signer(t, seed)
	set, js := jwks(t, s)
	in := receipt.Receipt{Version: receipt.Version, ID: receipt.ID("a", "b"), Event: receipt.ConsentGiven, Timestamp: 1767225600,
		Principal: "ana@example.com", PolicyVersion: "2026-12-01", SPICat: []string{}}
	token, err := s.Sign(in)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := joseVerify(t, token, js)
	if err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	var out receipt.Receipt
	if err := json.Unmarshal(payload, &out); err != nil || out.ID != in.ID || out.Principal != in.Principal {
		t.Fatalf("payload %s: %v", payload, err)
	}
	got, key, err := receipt.Verify(token, set.Keys)
	if err != nil || got.ID != in.ID || key.Kid != s.JWK().Kid {
		t.Fatalf("Verify: %+v %v", got, err)
	}
	// go-jose computes the same RFC 7638 thumbprint as our kid.
	tp, err := js.Keys[0].Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != s.JWK().Kid {
		t.Fatalf("thumbprint %x, kid %s: %v", tp, s.JWK().Kid, err)
	}

	// Every byte of every part matters.
	for i := range token {
		if token[i] == '.' {
			continue
		}
		b := []byte(token)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		if _, _, err := receipt.Verify(string(b), set.Keys); err == nil {
			t.Fatalf("a receipt changed at byte %d verifies", i)
		}
		// go-jose decodes Base64url leniently: a change to a part's last
		// character that only touches its unused bits leaves the signed
		// bytes as they were, and go-jose rightly accepts it. Ours is
		// strict and refuses it (above).
		if same(token, string(b)) {
			continue
		}
		if _, err := joseVerify(t, string(b), js); err == nil {
			t.Fatalf("go-jose verifies a receipt changed at byte %d", i)
		}
	}
}

// same reports whether two compact JWS decode to the same bytes.
func same(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range pa {
		da, _ := base64.RawURLEncoding.DecodeString(pa[i])
		db, _ := base64.RawURLEncoding.DecodeString(pb[i])
		if string(da) != string(db) {
			return false
		}
	}
	return true
}

func TestVerifyRefuses(t *testing.T) {
	s, other := signer(t, seed), signer(t, strings.Repeat("x", 40))
	set, _ := jwks(t, s)
	good, _ := s.Sign(receipt.Receipt{ID: "r1"})
	foreign, _ := other.Sign(receipt.Receipt{ID: "r2"})
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+s.JWK().Kid+`"}`)) + "." + parts[1] + "."
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"`+s.JWK().Kid+`"}`)) + "." + parts[1] + "." + parts[2]
	// The same key signs a ledger day's root: genuine, but no receipt.
	root, _ := s.SignPayload("privacykeeper-ledger-root+jwt", []byte(`{"day":"2026-12-06"}`))
	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"empty", "", receipt.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], receipt.ErrMalformed},
		{"not base64", "a.b!.c", receipt.ErrMalformed},
		{"an unpublished key", foreign, receipt.ErrUnknownKey},
		{"alg none", none, receipt.ErrSignature},
		{"alg HS256", hs, receipt.ErrSignature},
		{"signature of another receipt", parts[0] + "." + strings.Split(foreign, ".")[1] + "." + parts[2], receipt.ErrSignature},
		{"a ledger root", root, receipt.ErrOtherType},
	} {
		if _, _, err := receipt.Verify(c.token, set.Keys); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// After a rotation both keys are published: both receipts check.
	both, _ := jwks(t, s, other)
	for _, tok := range []string{good, foreign} {
		if _, _, err := receipt.Verify(tok, both.Keys); err != nil {
			t.Errorf("after rotation: %v", err)
		}
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestNewSigner(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(p256)
	sec384, _ := x509.MarshalECPrivateKey(p384)
	rsa8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	want, _ := receipt.PublicJWK(&p256.PublicKey)
	for _, c := range []struct {
		name, secret string
		ok           bool
		kid          string
	}{
		{"a generated seed", seed, true, ""},
		{"the seed with a trailing newline", seed + "\n", true, ""},
		{"a short seed", "too-short", false, ""},
		{"SEC 1 PEM", pemOf(t, "EC PRIVATE KEY", sec1), true, want.Kid},
		{"PKCS #8 PEM", pemOf(t, "PRIVATE KEY", pkcs8), true, want.Kid},
		{"P-384", pemOf(t, "EC PRIVATE KEY", sec384), false, ""},
		{"RSA", pemOf(t, "PRIVATE KEY", rsa8), false, ""},
		{"broken PEM", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----", false, ""},
	} {
		s, err := receipt.NewSigner(c.secret)
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if c.kid != "" && s.JWK().Kid != c.kid {
			t.Errorf("%s: kid %s, want %s", c.name, s.JWK().Kid, c.kid)
		}
	}
	// A seed is one key: the same seed, the same key; another, another.
	a, b, c := signer(t, seed), signer(t, seed+"\n"), signer(t, seed[1:]+"!")
	if a.JWK() != b.JWK() || a.JWK().Kid == c.JWK().Kid {
		t.Fatalf("seed keys: %s %s %s", a.JWK().Kid, b.JWK().Kid, c.JWK().Kid)
	}
}

func TestID(t *testing.T) {
	uuid8 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := receipt.ID("s", receipt.ConsentGiven, "signup-1"), receipt.ID("s", receipt.ConsentGiven, "signup-1")
	if a != b || !uuid8.MatchString(a) || receipt.ID("s", receipt.ConsentGiven, "signup-2") == a || receipt.ID("s", "consent_givensignup-1") == a {
		t.Fatalf("ids %s %s", a, b)
	}
}

func TestIssuer(t *testing.T) {
	s := signer(t, seed)
	set, _ := jwks(t, s)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	is := receipt.Issuer{Signer: s, PolicyURL: "https://example.com/privacy", Now: func() time.Time { return now },
		Controller: receipt.Controller{Name: "Example", Email: "privacy@example.com"}}
	at := time.Date(2026, 12, 1, 9, 30, 15, 123456789, time.UTC)
	sub := privacy.Subscription{Subject: "subj", Email: "ana@example.com", Name: "Ana", Topics: []string{"newsletter", "events"},
		SignupID: "sg1", ConfirmedAt: at, ConsentVersion: privacy.ConsentTextVersion, PolicyVersion: "2026-12-01"}
	read := func(tok string, err error) receipt.Receipt {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := receipt.Verify(tok, set.Keys)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := read(is.Confirmed(sub))
	if r.Event != receipt.ConsentGiven || r.Ledger != (receipt.LedgerEntry{Event: "subscription_confirmed", At: "2026-12-01T09:30:15.123456789Z", Ref: "sg1"}) ||
		r.Timestamp != at.Unix() || r.IssuedAt != now.Unix() || len(r.Services) != 2 || r.Services[0].Purposes[0].LegalBasis != privacy.BasisConsent ||
		r.ConsentText == nil || len(r.ConsentText.SHA256) != 64 || r.PolicyVersion != "2026-12-01" || r.Principal != sub.Email {
		t.Fatalf("confirmed: %+v", r)
	}
	again := read(is.Confirmed(sub))
	if again.ID != r.ID {
		t.Fatal("the receipt of one confirmation has two ids")
	}
	if _, err := is.Confirmed(privacy.Subscription{Email: "x@example.com", ConsentVersion: privacy.ConsentTextVersion}); err == nil {
		t.Error("a receipt for an unconfirmed subscription")
	}
	older := sub // stored before receipts: no sentence is claimed
	older.ConsentVersion = ""
	if r := read(is.Confirmed(older)); r.ConsentText != nil {
		t.Error("a receipt claims a consent sentence the signup did not record")
	}
	unknown := sub
	unknown.ConsentVersion = "made-up"
	if _, err := is.Confirmed(unknown); err == nil {
		t.Error("a receipt for a consent sentence that was never shown")
	}

	gone := sub
	gone.UnsubscribedAt, gone.Topics = at.Add(time.Hour), nil
	w := read(is.Withdrawn(gone))
	if w.Event != receipt.ConsentWithdrawn || w.Ledger.Event != "unsubscribed" || len(w.Services) != len(privacy.Topics()) || w.ID == r.ID {
		t.Fatalf("withdrawn: %+v", w)
	}

	n := 4
	req := privacy.RightsRequest{ID: "rq1", Subject: "subj", Email: "ana@example.com", Type: privacy.RightErasure, CompletedAt: at,
		PolicyVersion: "2026-12-01", ResultsCount: &n, Recipients: map[string]privacy.Recipient{"p1": {Name: "Mailer Inc", State: privacy.RecipientQueued}}}
	e := read(is.Erased(req))
	if e.Event != receipt.ErasureCompleted || e.Erasure == nil || e.Erasure.RequestID != "rq1" || *e.Erasure.ItemsFound != 4 ||
		len(e.Erasure.Kept) != 2 || e.Erasure.Kept[1].Until != "2029-11-30" || len(e.Erasure.Recipients) != 1 || e.Ledger.Ref != "rq1" {
		t.Fatalf("erased: %+v", e.Erasure)
	}
	req.Withheld = true
	if _, err := is.Erased(req); err == nil {
		t.Error("a receipt for an erasure a hold withheld")
	}
}

// A receipt names the sentence its signup showed: the contact form's box
// and the signup form each their own, in the signup's language, with the
// words, their hash and the form it came from (#33).
func TestConfirmedNamesTheFormsOwnSentence(t *testing.T) {
	s := signer(t, seed)
	set, _ := jwks(t, s)
	is := receipt.Issuer{Signer: s, PolicyURL: "https://example.com/privacy", Now: time.Now}
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	seen := map[string]string{}
	for _, tc := range []struct{ source, lang, method string }{
		{privacy.SourceSignupForm, "en", "website signup form"},
		{privacy.SourceSignupForm, "de", "website signup form"},
		{privacy.SourceContactForm, "en", "contact form"},
		{privacy.SourceContactForm, "fr", "contact form"},
	} {
		version, text := privacy.Consent(tc.source, tc.lang)
		sub := privacy.Subscription{Subject: "subj", Email: "ana@example.com", Topics: []string{"newsletter"}, SignupID: "sg1",
			ConfirmedAt: at, ConsentVersion: version, Source: tc.source, Lang: tc.lang}
		tok, err := is.Confirmed(sub)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := receipt.Verify(tok, set.Keys)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(text))
		if r.ConsentText == nil || r.ConsentText.Version != version || r.ConsentText.Text != text ||
			r.ConsentText.SHA256 != hex.EncodeToString(sum[:]) || !strings.Contains(r.CollectionMethod, tc.method) {
			t.Errorf("%s %s: %+v, %q", tc.source, tc.lang, r.ConsentText, r.CollectionMethod)
		}
		if other, ok := seen[version]; ok {
			t.Errorf("%s %s shares its version %q with %s", tc.source, tc.lang, version, other)
		}
		seen[version] = tc.source + " " + tc.lang
	}
}
