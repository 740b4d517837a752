package lambdaenv

import (
	"bytes"
	"context"
	"log/slog"
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
	dev := &Env{Development: true}
	if _, err := dev.LoadSecrets(context.Background()); err == nil {
		t.Fatal("a short secret was accepted")
	}
	t.Setenv("LOCAL_SECRET", "a-local-secret-of-more-than-32-characters")
	if _, err := dev.LoadSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Outside development LOCAL_SECRET is never the master secret.
	if _, err := (&Env{}).LoadSecrets(context.Background()); err == nil {
		t.Fatal("LOCAL_SECRET was used outside development")
	}
}

// The development settings are refused, at cold start, by a function not
// told it runs in development; the insecure callbacks are off there.
func TestDevelopmentIsExplicit(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")
	t.Setenv("ALLOW_INSECURE_CALLBACKS", "true")
	t.Setenv("DEVELOPMENT", "false")
	if _, err := Load(context.Background()); err == nil {
		t.Fatal("an emulator endpoint was accepted outside development")
	}
	if (&Env{}).InsecureCallbacks(slog.New(slog.DiscardHandler)) {
		t.Fatal("insecure callbacks outside development")
	}
	// The SDK's own endpoint variable (the local gateway's AWS front) too.
	t.Setenv("DYNAMODB_ENDPOINT", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3000")
	if _, err := Load(context.Background()); err == nil {
		t.Fatal("AWS_ENDPOINT_URL was accepted outside development")
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")
	t.Setenv("DEVELOPMENT", "true")
	env, err := Load(context.Background())
	if err != nil || !env.Development || env.DynamoDBEndpoint != "http://127.0.0.1:8000" ||
		!env.InsecureCallbacks(slog.New(slog.DiscardHandler)) {
		t.Fatalf("development: %+v, %v", env, err)
	}
}

// SNS_ENDPOINT points the feedback function's certificate fetches at
// another host, where any certificate verifies: outside development it
// fails the cold start, as the other endpoints do.
func TestSNSEndpointIsForDevelopmentOnly(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("SNS_ENDPOINT", "http://127.0.0.1:9911")
	for _, tc := range []struct {
		development string
		ok          bool
	}{{"", false}, {"false", false}, {"TRUE", false}, {"true", true}} {
		t.Setenv("DEVELOPMENT", tc.development)
		env, err := Load(context.Background())
		if (err == nil) != tc.ok {
			t.Errorf("DEVELOPMENT=%q: err %v, want refused %v", tc.development, err, !tc.ok)
			continue
		}
		if tc.ok && env.SNSEndpoint != "http://127.0.0.1:9911" {
			t.Errorf("DEVELOPMENT=true: SNSEndpoint %q", env.SNSEndpoint)
		}
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

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{{"", time.Minute, true}, {"120", 2 * time.Minute, true}, {"1", time.Second, true},
		{"0", 0, false}, {"-3", 0, false}, {"2m", 0, false}, {"1.5", 0, false}} {
		t.Setenv("X_SECONDS", tc.value)
		got, err := Seconds("X_SECONDS", time.Minute)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%q: %v, %v", tc.value, got, err)
		}
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		value   string
		want    float64
		wantErr bool
	}{
		{"", 7, false}, {"0", 0, false}, {"12.5", 12.5, false},
		{"-1", 0, true}, {"fast", 0, true}, {"NaN", 0, true}, {"+Inf", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("PK_TEST_FLOAT", tt.value)
		if got, err := Float("PK_TEST_FLOAT", 7); got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%q: %v, %v", tt.value, got, err)
		}
	}
}

// The development profiler refuses a period it cannot use before it
// starts anything, and is off without a directory, or outside development.
func TestProfileSettings(t *testing.T) {
	for _, c := range []struct {
		name, dev, dir, seconds string
		ok                      bool
	}{
		{"off without a directory", "true", "", "x", true},
		{"a period that is not a number", "true", t.TempDir(), "x", false},
		{"a period under a second", "true", t.TempDir(), "0", false},
		{"outside development, PPROF_DIR is not read", "", t.TempDir(), "x", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DEVELOPMENT", c.dev)
			t.Setenv("PPROF_DIR", c.dir)
			t.Setenv("PPROF_SECONDS", c.seconds)
			t.Setenv("AWS_REGION", "eu-west-1")
			if _, err := Load(context.Background()); (err == nil) != c.ok {
				t.Errorf("Load: %v, want ok %v", err, c.ok)
			}
		})
	}
}
