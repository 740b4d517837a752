package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/queue"
	sesmail "github.com/privacykeeper/privacykeeper/shared/ses"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// fanOutBench is a campaign's two halves measured apart at full size, in
// this process against DynamoDB Local, the SQS server and the SES
// emulator: the planner paging through every confirmed subscriber and
// queueing their batches, then senders, unpaced, mailing a sample of
// those batches as the sender function does (the send rate is then what
// this machine allows, not a configuration).
type fanOutBench struct {
	// Subscribers is how many confirmed subscribers the planner paged.
	Subscribers int     `json:"subscribers"`
	SeedSeconds float64 `json:"seed_seconds"`
	Planner     struct {
		Pages          int     `json:"pages"`
		Planned        int     `json:"planned"`
		Batches        int     `json:"batches"`
		Seconds        float64 `json:"seconds"`
		PagesPerSecond float64 `json:"pages_per_second"`
		// SubscribersPerSecond is how fast it queues: a million take
		// Subscribers / this.
		SubscribersPerSecond float64 `json:"subscribers_per_second"`
	} `json:"planner"`
	// Senders is, per number of senders at once, how fast each sent.
	Senders []senderRun `json:"senders"`
}

type senderRun struct {
	Concurrent int     `json:"concurrent"`
	Sends      int     `json:"sends"`
	Seconds    float64 `json:"seconds"`
	// PerSender is sends a second per concurrent sender: the campaign
	// rate this machine can hold is about Concurrent times it.
	PerSender float64 `json:"sends_per_second_per_sender"`
}

// benchFanOut seeds n confirmed subscribers, plans a campaign to them
// through the SQS server, then sends sample emails at each concurrency
// of senders from the queue.
func benchFanOut(ctx context.Context, db *dynamodb.Client, ddb, sesURL, sqsURL string, n, sample int) (fanOutBench, error) {
	fb := fanOutBench{Subscribers: n}
	names, err := local.CreateTablesOnly(ctx, local.Config{Template: "template.yaml", DynamoDBEndpoint: ddb,
		TablePrefix: fmt.Sprintf("fo%d-", time.Now().UnixNano()%1e9)})
	if err != nil {
		return fb, err
	}
	defer func() {
		for _, name := range names {
			_, _ = db.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	}()
	t := tablesByRole(names)
	if err := noStreams(ctx, db, t.Subjects); err != nil {
		return fb, err
	}
	store := dynamo.New(db, t)

	// The subscription items ConfirmSubscription leaves (as
	// TestCampaignFanOut seeds them).
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	at := time.Now().UTC().Format(time.RFC3339Nano)
	t0 := time.Now()
	if err := writeAll(ctx, db, t.Subjects, n, func(i int) map[string]types.AttributeValue {
		sub := benchSubject(i)
		return map[string]types.AttributeValue{"pk": s(dynamo.SubjectPK(privacy.SubjectID(sub))), "sk": s("SUB"),
			"kind": s(dynamo.KindSubscription), "subject": s(sub), "email": s(benchEmail(i)), "status": s(privacy.StatusConfirmed),
			"signup_id": s("seed"), "confirm_requested_at": s(at), "confirmed_at": s(at), "last_activity_at": s(at),
			"list_pk": s("subscribers"), "list_sk": s(sub), "topics": &types.AttributeValueMemberSS{Value: []string{"newsletter"}}}
	}); err != nil {
		return fb, fmt.Errorf("seed: %w", err)
	}
	fb.SeedSeconds = time.Since(t0).Seconds()

	sqsClient := sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(sqsURL) })
	qout, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("bench-fanout-%d", time.Now().UnixNano()%1e9)),
		Attributes: map[string]string{"MessageRetentionPeriod": "345600", "VisibilityTimeout": "900"}})
	if err != nil {
		return fb, fmt.Errorf("queue: %w", err)
	}
	defer func() {
		_, _ = sqsClient.DeleteQueue(context.WithoutCancel(ctx), &sqs.DeleteQueueInput{QueueUrl: qout.QueueUrl})
	}()
	q := &queue.SQS{Client: sqsClient, URL: aws.ToString(qout.QueueUrl)}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))

	// The planner, as the campaign function runs it (a page of 500, the
	// template's 4 days of retention at 100 a second).
	c := notify.Campaign{ID: fmt.Sprintf("fanout-%d", time.Now().UnixNano()), Topic: "newsletter", Subject: "Fan-out", Body: "Hello."}
	p := &campaign.Planner{Store: store, Queue: q, Pace: campaign.Pace{Rate: 100, Retention: 96 * time.Hour}, Now: time.Now, Log: log}
	t1 := time.Now()
	plan, err := p.Plan(ctx, c, time.Now().Add(24*time.Hour))
	took := time.Since(t1).Seconds()
	fb.Planner.Pages, fb.Planner.Planned, fb.Planner.Batches, fb.Planner.Seconds = plan.Pages, plan.Planned, plan.Batches, took
	fb.Planner.PagesPerSecond, fb.Planner.SubscribersPerSecond = float64(plan.Pages)/took, float64(plan.Planned)/took
	if err != nil {
		return fb, fmt.Errorf("plan: %w", err)
	}
	if plan.Planned != n {
		return fb, fmt.Errorf("plan: %d planned of %d", plan.Planned, n)
	}

	// The senders: unpaced, each taking up to 5 messages at a time off
	// the queue as the event source mapping hands them (BatchSize 5).
	tokens, err := token.New([]byte("bench-token-key-0123456789-0123456789"))
	if err != nil {
		return fb, err
	}
	sesClient := sesv2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *sesv2.Options) { o.BaseEndpoint = aws.String(sesURL) })
	for _, conc := range []int{1, 2} {
		var sent atomic.Int64
		var firstErr error
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				snd := &campaign.Sender{Store: store, Mail: &sesmail.Sender{Client: sesClient, From: "news@example.com"}, Tokens: tokens,
					Config: notify.Config{Company: "Example", BaseURL: "https://privacy.example.com", PolicyURL: "https://example.com/p",
						UnsubscribeMailDomain: "unsubscribe.example.com"},
					Pace: campaign.NewPacer(1e6, time.Now), Log: log, Now: time.Now}
				for int(sent.Load()) < sample {
					err := senderStep(ctx, sqsClient, q.URL, snd, &sent)
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		fb.Senders = append(fb.Senders, senderRun{Concurrent: conc, Sends: int(sent.Load()), Seconds: secs,
			PerSender: float64(sent.Load()) / secs / float64(conc)})
		if firstErr != nil {
			return fb, fmt.Errorf("senders (%d at once): %w", conc, firstErr)
		}
	}
	return fb, nil
}

// senderStep receives up to 5 batches, mails them as one invocation of
// the sender function would, and deletes those that did not fail.
func senderStep(ctx context.Context, client *sqs.Client, url string, snd *campaign.Sender, sent *atomic.Int64) error {
	var out *sqs.ReceiveMessageOutput
	// A receive may come back empty with messages queued (SQS samples
	// its servers): three empty ones in a row is a queue run dry.
	for try := 0; out == nil || len(out.Messages) == 0; try++ {
		if try == 3 {
			return fmt.Errorf("the queue ran dry after %d sends", sent.Load())
		}
		var err error
		if out, err = client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 5,
			WaitTimeSeconds: 1}); err != nil {
			return err
		}
	}
	var msgs []campaign.Message
	for _, m := range out.Messages {
		msgs = append(msgs, campaign.Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
	}
	if failed := snd.Handle(ctx, msgs); len(failed) > 0 {
		return fmt.Errorf("%d batches failed", len(failed))
	}
	for _, m := range out.Messages {
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return err
		}
	}
	sent.Add(int64(len(out.Messages) * privacy.CampaignBatchSize))
	return nil
}

func printFanOut(fb fanOutBench) {
	fmt.Printf("planner: %d subscribers (seeded in %.0f s) in %d pages, %d batches, %.1f s: %.1f pages/s, %.0f subscribers/s\n",
		fb.Planner.Planned, fb.SeedSeconds, fb.Planner.Pages, fb.Planner.Batches, fb.Planner.Seconds, fb.Planner.PagesPerSecond,
		fb.Planner.SubscribersPerSecond)
	for _, r := range fb.Senders {
		fmt.Printf("senders: %d at once, unpaced: %d sends in %.1f s, %.1f sends/s per sender (%.1f in all)\n", r.Concurrent, r.Sends,
			r.Seconds, r.PerSender, r.PerSender*float64(r.Concurrent))
	}
}
