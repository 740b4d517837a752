// Command callbacks posts the OpenDSR status callbacks: on the requests
// table's stream it queues each status change and delivers it; on its
// schedule ({"retry_callbacks": true}) it retries what failed. It only
// wires; the logic is in shared/processor.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/processor"
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
	// No app secret: a callback names a request and its results link, no one.
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{"OPS_TABLE": env.Tables.Ops, "REQUESTS_TABLE": env.Tables.Requests,
			"PUBLIC_BASE_URL": env.BaseURL})
	}
	var backoff time.Duration
	if err == nil {
		backoff, err = lambdaenv.Duration("CALLBACK_RETRY_BACKOFF", processor.DefaultBackoff)
	}
	if err != nil {
		return err
	}
	n := &processor.Notifier{
		Store:      dynamo.New(env.DynamoDB(), env.Tables),
		BaseURL:    env.BaseURL,
		Client:     opendsr.NewClient(env.InsecureCallbacks(log)),
		Log:        log,
		Now:        time.Now,
		Lease:      time.Minute,
		Backoff:    backoff,
		MaxBackoff: processor.DefaultMaxBackoff,
		GiveUp:     processor.DefaultGiveUp,
	}
	// Without a usable key every delivery fails and stays queued, retried
	// until one is configured: an unsigned callback is not one.
	pem, err := env.OpenDSRSigningKey(ctx)
	if err == nil {
		n.Signer, err = opendsr.NewSigner(pem, os.Getenv("OPENDSR_DOMAIN"))
	}
	if err != nil {
		log.Error("no usable OpenDSR signing key: callbacks wait in their queue", "error", err.Error())
	}
	lambda.Start(batch.StreamOr(dynamo.DecodeChange, n.Handle, n.Scheduled))
	return nil
}
