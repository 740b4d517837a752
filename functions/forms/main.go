// Command forms is the Lambda behind the website's forms: the contact form,
// the newsletter signup and its confirmation, and the health check. It only
// wires; the logic is in shared/forms.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/forms"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/policy"
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
	// The abuse limits, from the template's parameters (today's defaults
	// when unset).
	limits := forms.DefaultLimits()
	if err := lambdaenv.Ints(map[string]*int{
		"LIMIT_CONTACT_PER_IP_PER_HOUR":     &limits.ContactPerIP.Max,
		"LIMIT_CONTACT_PER_ADDRESS_PER_DAY": &limits.ContactPerAddress.Max,
		"LIMIT_SIGNUP_PER_IP_PER_HOUR":      &limits.SignupPerIP.Max,
		"LIMIT_SIGNUP_PER_ADDRESS_PER_DAY":  &limits.SignupPerAddress.Max,
	}); err != nil {
		return err
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	f := &forms.Forms{
		Store:  store,
		Hasher: keys.Hasher,
		Tokens: keys.Tokens,
		Limits: limits,
		Now:    time.Now,
		NewID:  uuid.NewString,
		Log:    log,
	}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL}, pages.Error)
	rt.LocalizeFields(pages.Fields)
	// Every request carries the policy version in force (ops POLICY).
	rt.InForce(policy.NewCache(store, env.PolicyVersion, ttl, log).InForce)
	f.Routes(rt)
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
