// Command campaign plans a marketing email to the confirmed subscribers of
// a topic: it pages through them and queues batches on the campaign queue,
// where CampaignSenderFunction mails them at the send rate. The team
// invokes it with the campaign as the event:
//
//	{"campaign_id": "2026-12-newsletter", "topic": "newsletter", "subject": "...", "body": "..."}
//
// and with {"campaign_id": "..."} alone for its status. It only wires; the
// logic is in shared/campaign.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/queue"
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
	queueURL := os.Getenv("CAMPAIGN_QUEUE_URL")
	if err == nil {
		err = lambdaenv.Require(map[string]string{"SUBJECTS_TABLE": env.Tables.Subjects, "OPS_TABLE": env.Tables.Ops,
			"CAMPAIGN_QUEUE_URL": queueURL})
	}
	if err != nil {
		return err
	}
	p := &campaign.Planner{Store: dynamo.New(env.DynamoDB(), env.Tables),
		Queue: &queue.SQS{Client: queue.NewClient(env.AWS, env.SQSEndpoint), URL: queueURL}, Now: time.Now, Log: log}
	lambda.Start(p.Invoke)
	return nil
}
