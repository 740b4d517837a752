// Command operator is the Lambda behind the privacy team's actions: the
// IAM-authorised route privacyctl calls, and the console's pages (behind
// the console's authorizer). It holds what the team's own
// credentials no longer do (the tables, the stack's secret) and records
// the caller with every decision. It only wires; the logic is in
// shared/operator.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/console"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
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
		"RECORDS_TABLE", "PLATFORM_REQUESTS_TABLE", "POLICY_VERSION", "PUBLIC_BASE_URL")
	var ttl, wait time.Duration
	if err == nil {
		ttl, err = lambdaenv.PolicyCacheTTL()
	}
	if err == nil {
		wait, err = lambdaenv.Duration("ADDRESS_CHANGE_WAIT", privacy.AddressChangeWait)
	}
	region, known := privacy.ParseRegion(os.Getenv("PLATFORM_REGION"))
	if err == nil && !known {
		err = fmt.Errorf("PLATFORM_REGION must be one of us, eu")
	}
	if err != nil {
		return err
	}
	db := env.DynamoDB()
	store := dynamo.New(db, env.Tables)
	inForce := policy.NewCache(store, env.PolicyVersion, ttl, log).InForce
	insecure := env.InsecureCallbacks(log)
	op := &operator.Operator{
		Store: store,
		// The Platform's open requests on the board, read-only.
		Platform:      dynamo.New(db, dynamo.Tables{Requests: env.Tables.PlatformRequests}),
		Hasher:        keys.Hasher,
		CredentialKey: keys.CredentialKey,
		Policy:        inForce,
		Fulfiller:     &rights.Fulfiller{Store: store, Policy: inForce, Log: log},
		Client:        opendsr.NewClient(insecure),
		AllowHTTP:     insecure,
		Now:           time.Now,
		NewID:         uuid.NewString,
		Log:           log,
		// How long the old address may stop a correction of the address.
		AddressChangeWait: wait,
		Company:           env.Company,
		Contact:           env.TeamInbox,
		Region:            env.AWS.Region,
		PlatformRegion:    region,
	}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL}, nil)
	op.Routes(rt)
	c := &console.Console{Operator: op, BaseURL: env.BaseURL, Now: time.Now, Log: log}
	c.Routes(rt)
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
