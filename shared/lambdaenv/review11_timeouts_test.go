package lambdaenv

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/defaults"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Review 11: each service client applies the SDK's timeouts to the
// configuration's HTTP client as it is built (dynamodb.New's
// resolveHTTPClient: the defaults mode's connect and TLS timeouts, and
// the per-service read timeout of the SDK's 2026 socket-timeout rollout),
// but only to an *awshttp.BuildableClient: Load wraps cfg.HTTPClient
// (HTTPClient) before any client is built, so every client skips them and
// dials with the BuildableClient's 30 s default. Not in effect with the
// template's environment (no AWS_DEFAULTS_MODE, the rollout off); it is
// when either is turned on.
func TestReview11ClientsKeepTheSDKsTimeouts(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_DEFAULTS_MODE", string(aws.DefaultsModeInRegion))
	env, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mode, err := defaults.GetModeConfiguration(aws.DefaultsModeInRegion)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mode.GetConnectTimeout()
	c := env.DynamoDB().Options().HTTPClient
	if w, ok := c.(interface{ Unwrap() aws.HTTPClient }); ok {
		c = w.Unwrap()
	}
	b, ok := c.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("the DynamoDB client's HTTP client is %T", c)
	}
	if got := b.GetDialer().Timeout; got != want {
		t.Errorf("the DynamoDB client dials with a %v timeout, want the in-region mode's %v", got, want)
	}
}
