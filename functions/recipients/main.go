// Command recipients tells the processors the site's data went to of each
// erasure (GDPR Art. 19), on a schedule: it posts the queued OpenDSR
// requests, retries those not told yet with backoff, and polls the
// accepted ones until they complete. It only wires; the logic is in
// shared/recipients.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
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
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{"REQUESTS_TABLE": env.Tables.Requests, "OPS_TABLE": env.Tables.Ops})
	}
	var secrets lambdaenv.Secrets
	if err == nil {
		secrets, err = env.LoadSecrets(ctx)
	}
	d := &recipients.Deliverer{
		Store:      dynamo.New(env.DynamoDB(), env.Tables),
		Client:     opendsr.NewClient(env.InsecureCallbacks(log)),
		Key:        secrets.CredentialKey,
		MaxBackoff: recipients.DefaultMaxBackoff,
		GiveUp:     recipients.DefaultGiveUp,
		Lease:      2 * time.Minute,
		Now:        time.Now,
		Log:        log,
	}
	if err == nil {
		d.Backoff, err = lambdaenv.Duration("RECIPIENT_RETRY_BACKOFF", recipients.DefaultBackoff)
	}
	if err == nil {
		d.PollEvery, err = lambdaenv.Duration("RECIPIENT_POLL_EVERY", recipients.DefaultPollEvery)
	}
	if err != nil {
		return err
	}
	lambda.Start(d.Run)
	return nil
}
