package e2e

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-jose/go-jose/v4"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// A receipt is a compact JWS: three Base64url parts.
var receiptJWS = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// receipt finds the receipt an email carries and checks it as anyone
// would: against the stack's GET /.well-known/jwks.json with a standard
// JOSE library (go-jose), a changed byte failing; and through the verify
// route, which says genuine for it and not for the changed one. It
// returns the receipt's claims.
func (s *stack) receipt(t *testing.T, mail localtest.Email) map[string]any {
	t.Helper()
	jws := receiptJWS.FindString(mail.Body.Text)
	if jws == "" || !strings.Contains(mail.Body.HTML, jws) {
		t.Fatalf("no receipt in both parts of %q:\n%s", mail.Subject, mail.Body.Text)
	}
	resp, body := s.do(t, "GET", "/.well-known/jwks.json", "", "", nil)
	var set jose.JSONWebKeySet
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	check := func(token string) ([]byte, error) {
		sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			return nil, err
		}
		keys := set.Key(sig.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("the receipt's key %q is not published once in %s", sig.Signatures[0].Header.KeyID, body)
		}
		return sig.Verify(keys[0])
	}
	payload, err := check(jws)
	if err != nil {
		t.Fatalf("the receipt does not verify against the JWKS: %v", err)
	}
	// Change one byte of the payload: it no longer verifies.
	parts := strings.Split(jws, ".")
	p := []byte(parts[1])
	p[len(p)/2] = map[bool]byte{true: 'B', false: 'A'}[p[len(p)/2] == 'A'] // another Base64url letter
	changed := parts[0] + "." + string(p) + "." + parts[2]
	if _, err := check(changed); err == nil {
		t.Fatal("a receipt with a changed byte verifies")
	}
	// The verify route, as JSON and as the page a person pastes into.
	for tok, want := range map[string]bool{jws: true, changed: false} {
		resp, out := s.do(t, "POST", "/v1/receipts/verify", "application/json", `{"receipt":"`+tok+`"}`, nil)
		var v struct {
			Valid bool `json:"valid"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &v) != nil || v.Valid != want {
			t.Fatalf("verify route for a receipt genuine=%v: %d %s", want, resp.StatusCode, out)
		}
		resp, out = s.do(t, "POST", "/v1/receipts/verify", "application/x-www-form-urlencoded",
			"receipt="+url.QueryEscape(tok), map[string]string{"Accept": "text/html"})
		if resp.StatusCode != 200 || strings.Contains(out, "This receipt is genuine") != want {
			t.Fatalf("verify page for a receipt genuine=%v: %d %s", want, resp.StatusCode, out)
		}
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// matchesLedger checks that a receipt's fields are those of one of the
// person's ledger entries: the same event, instant, reference and policy
// version, and, for a consent, the same purpose and legal basis.
func (s *stack) matchesLedger(t *testing.T, claims map[string]any, email string) {
	t.Helper()
	l, _ := claims["ledgerEntry"].(map[string]any)
	rat, err := time.Parse(time.RFC3339Nano, asString(l["at"]))
	if err != nil {
		t.Fatalf("receipt's ledger entry %v: %v", l, err)
	}
	pk := "S#" + string(s.hasher.Subject(email))
	var entry map[string]types.AttributeValue
	var at time.Time
	for _, it := range s.items(t, "LedgerTable") {
		eat, _ := time.Parse(time.RFC3339Nano, str(it, "at"))
		if str(it, "pk") == pk && str(it, "event") == asString(l["event"]) && eat.Equal(rat) && str(it, "ref") == asString(l["ref"]) {
			entry, at = it, eat
		}
	}
	if entry == nil {
		t.Fatalf("no ledger entry is the receipt's %v", l)
	}
	if ts, _ := claims["consentTimestamp"].(float64); int64(ts) != at.Unix() {
		t.Fatalf("receipt's time %v, ledger's %v", claims["consentTimestamp"], at)
	}
	if claims["policyVersion"] != str(entry, "policy_version") || claims["policyVersion"] == "" {
		t.Fatalf("receipt's policy version %v, ledger's %q", claims["policyVersion"], str(entry, "policy_version"))
	}
	if str(entry, "purpose") == "" {
		return
	}
	services, _ := claims["services"].([]any)
	for _, sv := range services {
		purposes, _ := sv.(map[string]any)["purposes"].([]any)
		p, _ := purposes[0].(map[string]any)
		if p["purpose"] != str(entry, "purpose") || p["legalBasis"] != str(entry, "legal_basis") {
			t.Fatalf("receipt's purpose %v, ledger's %s on %s", p, str(entry, "purpose"), str(entry, "legal_basis"))
		}
	}
	if len(services) == 0 {
		t.Fatal("a consent receipt with no services")
	}
}

func asString(v any) string { s, _ := v.(string); return s }
