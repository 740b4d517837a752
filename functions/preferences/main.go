// Command preferences is the Lambda behind the links in every marketing
// email (one-click unsubscribe and topic preferences) and behind the
// receipts those emails carry (the published keys, and a check of a pasted
// receipt). It only wires; the logic is in shared/preferences.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/preferences"
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
	env, keys, err := lambdaenv.Start(ctx, "SUBJECTS_TABLE", "LEDGER_TABLE", "SUPPRESSION_TABLE", "OPS_TABLE", "POLICY_VERSION")
	if err != nil {
		return err
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	h := &preferences.Handlers{Store: store, Tokens: keys.Tokens, Now: time.Now, Log: log}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL}, pages.Error)
	rt.LocalizeFields(pages.Fields)
	// Every request carries the policy version in force (ops POLICY).
	rt.InForce(policy.NewCache(store, env.PolicyVersion, ttl, log).InForce)
	h.Routes(rt)
	// The receipts' routes read the published keys (ops items RCPTKEY).
	(&preferences.Receipts{Keys: store, Log: log}).ReceiptRoutes(rt)
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
