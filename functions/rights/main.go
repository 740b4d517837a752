// Command rights is the Lambda behind rights requests: intake, identity
// verification and the requester's status view. It only wires; the logic
// is in shared/rights.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
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
	env, keys, err := lambdaenv.Start(ctx, "REQUESTS_TABLE", "LEDGER_TABLE", "SUBJECTS_TABLE", "SUPPRESSION_TABLE", "OPS_TABLE",
		"POLICY_VERSION", "PUBLIC_BASE_URL")
	if err != nil {
		return err
	}
	perIP, perAddress, excess := rights.DefaultPerIP, rights.DefaultPerAddress, 3
	if err := lambdaenv.Ints(map[string]*int{
		"LIMIT_RIGHTS_PER_IP_PER_HOUR":     &perIP.Max,
		"LIMIT_RIGHTS_PER_ADDRESS_PER_DAY": &perAddress.Max,
		"RIGHTS_EXCESSIVE_AFTER":           &excess,
	}); err != nil {
		return err
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	// Every request and fulfilment carries the policy version in force.
	inForce := policy.NewCache(store, env.PolicyVersion, ttl, log).InForce
	h := &rights.Handlers{
		Store:          store,
		Fulfiller:      &rights.Fulfiller{Store: store, Policy: inForce, Log: log},
		BaseURL:        env.BaseURL,
		Hasher:         keys.Hasher,
		Tokens:         keys.Tokens,
		Now:            time.Now,
		NewID:          uuid.NewString,
		Log:            log,
		ExcessPerMonth: excess,
		PerIP:          perIP,
		PerAddress:     perAddress,
	}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL}, pages.Error)
	rt.LocalizeFields(pages.Fields)
	rt.InForce(inForce)
	h.Routes(rt, store, env.Company)
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
