package lambdaenv

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestDeriveSecrets(t *testing.T) {
	a, b := DeriveSecrets("master-one-0123456789-0123456789"), DeriveSecrets("master-two-0123456789-0123456789")
	if bytes.Equal(a.SubjectPepper, a.TokenKey) {
		t.Error("the pepper and the token key must differ")
	}
	if bytes.Equal(a.SubjectPepper, b.SubjectPepper) || len(a.SubjectPepper) != 32 {
		t.Error("keys must depend on the master secret")
	}
	if !bytes.Equal(a.TokenKey, DeriveSecrets("master-one-0123456789-0123456789").TokenKey) {
		t.Error("derivation must be stable")
	}
}

func TestLoadSecretsRejectsShortLocalSecret(t *testing.T) {
	t.Setenv("SECRET_ARN", "AppSecret") // what sam local resolves !Ref to
	t.Setenv("LOCAL_SECRET", "short")
	if _, err := (&Env{}).LoadSecrets(context.Background()); err == nil {
		t.Fatal("a short secret was accepted")
	}
	t.Setenv("LOCAL_SECRET", "a-local-secret-of-more-than-32-characters")
	if _, err := (&Env{}).LoadSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRequire(t *testing.T) {
	if err := Require(map[string]string{"A": "x", "B": ""}); err == nil {
		t.Fatal("a missing value passed")
	}
	if err := Require(map[string]string{"A": "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{{"", time.Minute, true}, {"15m", 15 * time.Minute, true}, {"2s", 2 * time.Second, true}, {"0s", 0, true},
		{"15", 0, false}, {"-1m", 0, false}, {"soon", 0, false}} {
		t.Setenv("PK_TEST_DURATION", tc.value)
		got, err := Duration("PK_TEST_DURATION", time.Minute)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %v, %v; want %v (ok %v)", tc.value, got, err, tc.want, tc.ok)
		}
	}
}
