// Command callbacks is the Lambda on the requests table's stream that posts
// the OpenDSR status callbacks. It only wires; the logic is in
// shared/processor.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

func main() {
	ctx := context.Background()
	log := lambdaenv.Logger()
	env, keys, err := lambdaenv.Start(ctx, "OPS_TABLE", "PUBLIC_BASE_URL")
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	signer, err := processor.LoadSigner(ctx, env)
	if err != nil {
		// Unsigned callbacks are not callbacks: fail, and the stream keeps
		// the changes until a key is configured.
		log.Error("cold start failed: no usable OpenDSR signing key", "error", err.Error())
		os.Exit(1)
	}
	n := &processor.Notifier{
		Markers: dynamo.New(env.DynamoDB(), env.Tables),
		Signer:  signer,
		Tokens:  keys.Tokens,
		BaseURL: env.BaseURL,
		Client:  processor.NewClient(),
		Log:     log,
		Now:     time.Now,
		Lease:   time.Minute,
	}
	lambda.Start(n.Handle)
}
