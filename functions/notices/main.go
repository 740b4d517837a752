// Command notices is the Lambda that makes a published policy version's
// notices due: every minute (and when invoked), it pages through the
// version's audiences and makes each person's notice once, at the
// configured rate; the mailer sends them (the outbox). It only wires; the
// logic is in shared/policy.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
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
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{"SUBJECTS_TABLE": env.Tables.Subjects, "REQUESTS_TABLE": env.Tables.Requests,
			"OPS_TABLE": env.Tables.Ops})
	}
	rate := 5
	if err == nil {
		err = lambdaenv.Ints(map[string]*int{"NOTICE_RATE_PER_SECOND": &rate})
	}
	if err == nil && rate < 1 {
		err = errors.New("NOTICE_RATE_PER_SECOND must be at least 1")
	}
	if err != nil {
		return err
	}
	p := &policy.Planner{Store: dynamo.New(env.DynamoDB(), env.Tables), Rate: float64(rate), Page: 25, Now: time.Now,
		Sleep: policy.Sleep, Log: log}
	lambda.Start(p.Invoke)
	return nil
}
