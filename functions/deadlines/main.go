// Command deadlines emails the privacy team one digest a day of the rights
// requests that are overdue, due within a week, or waiting on the
// requester: the site's and the Platform's (controllers' OpenDSR
// requests). It only wires; the logic is in shared/deadlines.
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
			"PLATFORM_REQUESTS_TABLE": env.Tables.PlatformRequests, "SENDER_ADDRESS": env.Sender, "TEAM_INBOX": env.TeamInbox})
	}
	if err != nil {
		return err
	}
	db := env.DynamoDB()
	w := &deadlines.Watch{
		Store: dynamo.New(db, env.Tables),
		// The Platform's requests, read as a table of requests of its own.
		Platform: dynamo.New(db, dynamo.Tables{Requests: env.Tables.PlatformRequests}),
		Mail:     &ses.Sender{Client: ses.NewClient(env.AWS, env.SESEndpoint), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Config:   notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL},
		Now:      time.Now,
		Log:      log,
	}
	lambda.Start(w.Run)
	return nil
}
