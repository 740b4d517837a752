package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The local IAM authorizer admits what a known user signed, as signed,
// and refuses anything else before a function runs.
func TestVerifySigV4(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	dpo := DevIdentities()[1]
	signed := func(key, secret, service, body string, at time.Time) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://localhost:3000/v1/operator", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	body := `{"action":"list"}`
	for _, tc := range []struct {
		name string
		req  *http.Request
		body string
		ok   bool
	}{
		{"signed by dpo", signed(dpo.AccessKeyID, dpo.SecretAccessKey, "execute-api", body, now), body, true},
		{"another body than signed", signed(dpo.AccessKeyID, dpo.SecretAccessKey, "execute-api", body, now), `{"action":"hold list"}`, false},
		{"wrong secret", signed(dpo.AccessKeyID, "guess", "execute-api", body, now), body, false},
		{"unknown key", signed("local", "local", "execute-api", body, now), body, false},
		{"signed for another service", signed(dpo.AccessKeyID, dpo.SecretAccessKey, "lambda", body, now), body, false},
		{"signed ten minutes ago", signed(dpo.AccessKeyID, dpo.SecretAccessKey, "execute-api", body, now.Add(-10*time.Minute)), body, false},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://localhost:3000/v1/operator", strings.NewReader(body))
			return r
		}(), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, who, err := verifySigV4(tc.req, bytes.Clone([]byte(tc.body)), DevIdentities(), now)
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v (ok %v)", err, tc.ok)
			}
			if tc.ok && (who.UserARN != dpo.ARN || who.AccountID != "000000000000") {
				t.Fatalf("identity %+v, want %s", who, dpo.ARN)
			}
		})
	}
}
