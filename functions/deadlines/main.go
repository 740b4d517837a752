// Command deadlines emails the privacy team one digest a day of the rights
// requests that are overdue, due within a week, or waiting on the
// requester. It only wires; the logic is in shared/deadlines.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/ses"
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
		err = lambdaenv.Require(map[string]string{"REQUESTS_TABLE": env.Tables.Requests,
			"SENDER_ADDRESS": env.Sender, "TEAM_INBOX": env.TeamInbox})
	}
	if err != nil {
		return err
	}
	w := &deadlines.Watch{
		Store:  dynamo.New(env.DynamoDB(), env.Tables),
		Mail:   &ses.Sender{Client: ses.NewClient(env.AWS, env.SESEndpoint), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Config: notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL},
		Now:    time.Now,
		Log:    log,
	}
	lambda.Start(w.Run)
	return nil
}
