// Command feedback receives SES bounce and complaint notifications through
// SNS and suppresses the addresses. It only wires; the logic is in
// shared/feedback.
package main

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/feedback"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/sns"
)

func main() {
	if err := run(); err != nil {
		lambdalog.New().Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
}

// run wires the function and starts it; it returns only when the cold
// start fails.
func run() error {
	ctx := context.Background()
	log := lambdalog.New()
	env, keys, err := lambdaenv.Start(ctx, "SUPPRESSION_TABLE", "LEDGER_TABLE", "OPS_TABLE", "POLICY_VERSION",
		"FEEDBACK_TOPIC_ARNS")
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	h := &feedback.Handler{
		Store:            store,
		Verifier:         &sns.Verifier{Certs: &sns.HTTPCerts{Client: client, Endpoint: env.SNSEndpoint}},
		Hasher:           keys.Hasher,
		Topics:           feedback.Topics(os.Getenv("FEEDBACK_TOPIC_ARNS")),
		Confirm:          feedback.ConfirmByGet(client, env.SNSEndpoint),
		SoftBounceLimit:  3,
		SoftBounceWindow: 14 * 24 * time.Hour,
		Policy:           policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Now:              time.Now,
		Log:              log,
	}
	lambda.Start(apigw.HTTPOr(h.Serve, h.SNS))
	return nil
}
