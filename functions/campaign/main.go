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
	queueURL := os.Getenv("CAMPAIGN_QUEUE_URL")
	if err == nil {
		err = lambdaenv.Require(map[string]string{"SUBJECTS_TABLE": env.Tables.Subjects, "OPS_TABLE": env.Tables.Ops,
			"CAMPAIGN_QUEUE_URL": queueURL})
	}
	if err != nil {
		return err
	}
	// The plan is held to what the queue keeps until its turn at the
	// campaign send rate (campaign.Pace): both read once, at cold start.
	q := &queue.SQS{Client: queue.NewClient(env.AWS, env.SQSEndpoint), URL: queueURL}
	retention, err := q.Retention(ctx)
	if err != nil {
		return err
	}
	total, err := lambdaenv.Float("CAMPAIGN_SEND_RATE", 0)
	if err != nil {
		return err
	}
	client := ses.NewClient(env.AWS, env.SESEndpoint)
	rate, err := campaign.TotalRate(ctx, total, func(ctx context.Context) (float64, error) { return ses.MaxSendRate(ctx, client) })
	if err != nil {
		return err
	}
	log.Info("campaign pace", "per_second", rate, "queue_retention_seconds", retention.Seconds())
	p := &campaign.Planner{Store: dynamo.New(env.DynamoDB(), env.Tables), Queue: q,
		Pace: campaign.Pace{Rate: rate, Retention: retention}, Now: time.Now, Log: log}
	lambda.Start(p.Invoke)
	return nil
}
