// Command unsubscribemail receives, through an SES receipt rule, the
// emails sent to the mailto: address of a marketing email's
// List-Unsubscribe header, and unsubscribes the subject each address was
// signed for. It only wires; the logic is in shared/inbound.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/inbound"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
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
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	// Without UNSUBSCRIBE_MAIL_DOMAIN (UnsubscribeMailDomain "none") no
	// rule sends mail here, and the handler would ignore it all.
	h := &inbound.Handler{
		Store:  store,
		Tokens: keys.Tokens,
		Domain: env.UnsubscribeMailDomain,
		Policy: policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Now:    time.Now,
		Log:    log,
	}
	lambda.Start(h.Invoke)
	return nil
}
