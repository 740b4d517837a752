package template_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/ses"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// The seventh role-versus-code review of "processors without an API"
// (issue #35 item 4, the merge of branch procmail): every AWS call of
// the changed paths, recorded as the SDK sends them through a real
// dynamo.Store and translated as the local stack translates them
// (infra/awsreq), asked of the transformed template's roles.
//
// Unlike requests7 (iam_review7_test.go), whose recorder finds no
// delivery, this recorder answers with an emailed processor's delivery
// (state "emailed", a contact_email, mail_due processor_asked), its
// request (with a recipients summary) and a processor registered by its
// contact address, so that the branches taken only when one is found send
// their requests too: ConfirmDelivery's transaction, the deliverer's
// overdue move and its release of held mail, the mailer's re-read of a
// delivery to retry its email.

const (
	pmRequest   = "r1"
	pmProcessor = "p1"
	pmContact   = "privacy@drift.example"
)

// pmDelivery is an emailed processor's delivery as stored, due (its 30
// days to confirm over).
var pmDelivery = `{"pk":{"S":"R#` + pmRequest + `"},"sk":{"S":"RCPT#` + pmProcessor + `"},"kind":{"S":"recipient_delivery"},` +
	`"id":{"S":"` + pmRequest + `"},"processor_id":{"S":"` + pmProcessor + `"},"processor_name":{"S":"Drift"},` +
	`"subject_request_id":{"S":"0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"},"type":{"S":"erasure"},"regulation":{"S":"gdpr"},` +
	`"identity_format":{"S":"raw"},"identity_value":{"S":"ann@example.org"},"state":{"S":"emailed"},"attempts":{"N":"0"},` +
	`"submitted_at":{"S":"2026-11-01T10:00:00.000000000Z"},"due_at":{"S":"2026-12-01T10:00:00Z"},"status":{"S":"recipient_open"},` +
	`"contact_email":{"S":"` + pmContact + `"},"mail_due":{"S":"processor_asked"},"updated_at":{"S":"2026-11-01T10:00:00.000000000Z"}}`

// pmRequestItem is the request the delivery tells of: completed, its
// completion email held for the deliveries (mail_pending), the processor
// in its recipients summary.
var pmRequestItem = `{"pk":{"S":"R#` + pmRequest + `"},"sk":{"S":"REQUEST"},"kind":{"S":"rights_request"},"id":{"S":"` + pmRequest + `"},` +
	`"type":{"S":"erasure"},"regulation":{"S":"gdpr"},"status":{"S":"completed"},"subject":{"S":"` + string(review7Subject) + `"},` +
	`"received_at":{"S":"2026-11-01T09:00:00.000000000Z"},"due_at":{"S":"2026-12-01T09:00:00Z"},` +
	`"mail_pending":{"S":"completed"},` +
	`"recipients":{"M":{"` + pmProcessor + `":{"M":{"name":{"S":"Drift"},"state":{"S":"emailed"},"at":{"S":"2026-11-01T10:00:00.000000000Z"}}}}}}`

// pmProcessorItem is a processor registered by its contact address.
var pmProcessorItem = `{"pk":{"S":"PROC#"},"sk":{"S":"` + pmProcessor + `"},"processor_id":{"S":"` + pmProcessor + `"},"name":{"S":"Drift"},` +
	`"identity_format":{"S":"raw"},"types":{"SS":["erasure","rectification","restriction"]},` +
	`"created_at":{"S":"2026-10-01T10:00:00.000000000Z"},"contact_email":{"S":"` + pmContact + `"}}`

func answersProcmail(op, tableName string, body []byte) string {
	b := string(body)
	switch {
	case op == "GetItem" && tableName == "RequestsTable" && strings.Contains(b, `"RCPT#`):
		return `{"Item":` + pmDelivery + `}`
	case op == "GetItem" && tableName == "RequestsTable":
		return `{"Item":` + pmRequestItem + `}`
	case op == "Query" && tableName == "OpsTable" && strings.Contains(b, `"PROC#"`):
		return `{"Items":[` + pmProcessorItem + `],"Count":1,"ScannedCount":1}`
	case op == "Query" && tableName == "RequestsTable" && strings.Contains(b, `"by-status-due"`) && strings.Contains(b, `"recipient_`):
		return `{"Items":[` + pmDelivery + `],"Count":1,"ScannedCount":1}`
	case op == "Query", op == "Scan":
		return `{"Items":[],"Count":0,"ScannedCount":0}`
	}
	return `{}`
}

// requestsProcmail runs calls against a store over the recorder
// answering with answersProcmail, and returns each request as IAM
// evaluates it, and the operations sent.
func requestsProcmail(t *testing.T, calls func(ctx context.Context, st *dynamo.Store) error) ([]iamsim.Request, []string) {
	t.Helper()
	return record7(t, answersProcmail, calls)
}

func pmEvent(name privacy.EventName) privacy.Event {
	return privacy.Event{Subject: review7Subject, Name: name, At: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Ref: pmRequest,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: "v2", Detail: map[string]string{"processor_id": pmProcessor}}
}

// What every changed path of "processors without an API" sends, as AWS
// evaluates it, against the role of each function that runs it. Every
// request must be allowed: a refusal is a call that fails in AWS. Each
// case also names the operations it must have sent, so that a recorder
// answer that sends a path down an early return (nothing found) fails
// here instead of passing on fewer calls.
//
// (All passed on the template under review at 1d402d5: the review found
// no refused DynamoDB call on these paths.)
func TestIAMReview7ProcmailPathsAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	req := privacy.RightsRequest{ID: pmRequest, Type: privacy.RightRestriction, Regulation: privacy.RegulationGDPR,
		Subject: review7Subject, Email: "ann@example.org"}
	tell := func(ctx context.Context, st *dynamo.Store, r privacy.RightsRequest) ([]privacy.Delivery, error) {
		procs, err := st.ProcessorsToTell(ctx)
		if err != nil {
			return nil, err
		}
		ds, err := recipients.For(r, procs, now)
		if err == nil && (len(ds) != 1 || !ds[0].ByEmail()) {
			t.Fatalf("recipients.For: %+v, want one delivery by email", ds)
		}
		return ds, err
	}
	for _, c := range []struct {
		name  string
		who   []string
		want  []string // operations the path must send
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		// POST /v1/rights-requests/{id}/processors/{processor}/confirm
		// (rights.Handlers.ConfirmProcessor): the request read, the
		// delivery read, its completion, the summary and the entry in
		// one transaction. A double click refused at item 0 sends the
		// same requests.
		{"rights: a processor confirms by its link", []string{"RightsFunction"}, []string{"GetItem", "GetItem", "TransactWriteItems"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.Request(ctx, pmRequest); err != nil {
					return err
				}
				return st.ConfirmDelivery(ctx, pmRequest, pmProcessor, pmEvent("processor_confirmed"))
			}},
		// A restriction's fulfilment (link-verified: RightsFunction; the
		// team's approval: OperatorFunction) queues a delivery by email
		// with its outcome (rights.Fulfiller.toTell, dynamo.SetOutcome).
		{"fulfil: a restriction queues its email deliveries", []string{"RightsFunction", "OperatorFunction"},
			[]string{"Query", "TransactWriteItems"},
			func(ctx context.Context, st *dynamo.Store) error {
				ds, err := tell(ctx, st, req)
				if err != nil {
					return err
				}
				return st.SetOutcome(ctx, pmRequest, privacy.Outcome{Status: privacy.RequestCompleted,
					MailDue: privacy.Due(privacy.MailRestricted, ""), Restricts: true, Deliveries: ds}, pmEvent("restriction_in_place"))
			}},
		// The desk's rectification (approve, complete): TellProcessors.
		{"desk: a rectification tells the processors", []string{"OperatorFunction"}, []string{"Query", "TransactWriteItems"},
			func(ctx context.Context, st *dynamo.Store) error {
				r := req
				r.Type = privacy.RightRectification
				ds, err := tell(ctx, st, r)
				if err != nil {
					return err
				}
				return st.TellProcessors(ctx, pmRequest, ds, now)
			}},
		// privacyctl processor add -contact, approved by a second
		// member: the ask ended, the registration and the team's entry.
		{"operator: processor add by contact", []string{"OperatorFunction"}, []string{"TransactWriteItems"},
			func(ctx context.Context, st *dynamo.Store) error {
				e := review7TeamEvent("processor_added")
				e.Ref, e.Detail = pmProcessor, map[string]string{"name": "Drift", "told_by": "email", "contact_domain": "drift.example", "reason": "dpa"}
				return st.ApproveProcessorAsk(ctx, privacy.ProcessorAsk{ID: "ask-1", Kind: privacy.ProcessorAskAdd, AskedBy: "ann",
					AskedAt: e.At.Add(-time.Hour), Processor: privacy.Processor{ID: pmProcessor, Name: "Drift", Contact: pmContact,
						IdentityFormat: "raw", Types: recipients.EmailTypes()}}, e)
			}},
		// privacyctl processor overdue, the console's deadline board
		// (OperatorFunction) and the daily digest (DeadlineWatchFunction).
		// (The digest reads the failed bucket and the open one,
		// deadlines.Watch.Run; the operator the failed one.)
		{"overdue processors: the failed and open buckets", []string{"OperatorFunction", "DeadlineWatchFunction"}, []string{"Query", "Query"},
			func(ctx context.Context, st *dynamo.Store) error {
				for _, status := range []string{privacy.DeliveryFailed, privacy.DeliveryOpen} {
					if _, err := st.DeliverySummaries(ctx, status); err != nil {
						return err
					}
				}
				return nil
			}},
		// The deliverer's run over an emailed delivery past its 30 days:
		// read, leased, moved to the failed bucket (identity removed),
		// the request's held email released.
		{"recipients: an emailed delivery becomes overdue", []string{"RecipientsFunction"},
			[]string{"Query", "Query", "UpdateItem", "TransactWriteItems", "GetItem", "UpdateItem"},
			func(ctx context.Context, st *dynamo.Store) error {
				d := &recipients.Deliverer{Store: st, Client: http.DefaultClient, Backoff: time.Minute, MaxBackoff: time.Hour,
					GiveUp: 7 * 24 * time.Hour, PollEvery: time.Hour, Lease: time.Minute, Now: func() time.Time { return now },
					Log: slog.New(slog.DiscardHandler)}
				rep, err := d.Run(ctx)
				if err == nil && rep.Overdue != 1 {
					t.Errorf("deliverer report %+v, want one overdue confirmation", rep)
				}
				return err
			}},
		// The mailer's processor_request: the send claimed and marked
		// (and released on a failed send), queued for retry, re-read by
		// the retry (ChangedItem of the delivery's key).
		{"mailer: a processor's email sent once, retried", []string{"MailerFunction"},
			[]string{"PutItem", "UpdateItem", "DeleteItem", "PutItem", "GetItem"},
			func(ctx context.Context, st *dynamo.Store) error {
				const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
				if _, err := st.ClaimMail(ctx, key, now, 2*time.Minute); err != nil {
					return err
				}
				if err := st.MailSent(ctx, key, "m1"); err != nil {
					return err
				}
				if err := st.ReleaseMail(ctx, key); err != nil {
					return err
				}
				r := privacy.MailRetry{Source: "arn:aws:dynamodb:us-east-1:000000000000:table/RequestsTable/stream/x", Table: "RequestsTable",
					PK: "R#" + pmRequest, SK: "RCPT#" + pmProcessor, Due: privacy.Due(privacy.MailProcessor, ""), Attempts: 1,
					First: now, Next: now.Add(time.Minute)}
				if err := st.QueueMail(ctx, r); err != nil {
					return err
				}
				ch, found, err := st.ChangedItem(ctx, r)
				if err == nil && (!found || ch.Delivery == nil || ch.MailDue != r.Due) {
					t.Errorf("ChangedItem: found %v, change %+v: want the delivery with its mail_due", found, ch)
				}
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs, ops := requestsProcmail(t, c.calls)
			if strings.Join(ops, " ") != strings.Join(c.want, " ") {
				t.Errorf("sent %v, want %v", ops, c.want)
			}
			for _, who := range c.who {
				for _, r := range decide7(t, who, reqs) {
					t.Errorf("%s: %s", who, r)
				}
			}
		})
	}
}

// The mailer's processor_request goes to an address no other email of
// the stack goes to: the processor's privacy contact. SES authorizes
// ses:SendEmail on the sending identity (infra/awsreq.SESv2 checks the
// sender's domain) and, while the account is in the SES sandbox, on the
// recipient's identity too: an IAM user limited to its sender identity is
// "not authorized to perform ses:SendEmail on resource
// arn:aws:ses:…:identity/<recipient>" (aws/aws-sdk-js#3641,
// GSA/data.gov#3810), and a sandboxed account may mail only verified
// addresses and domains ("Request production access", SES developer
// guide: "You can only send mail to verified email addresses and domains,
// or to the Amazon SES mailbox simulator"). MailerFunctionRole's SendEmail
// names identity/* with ses:FromAddress the sender, so IAM allows both
// checks; neither IAM nor the code can make SES accept an unverified
// processor address in the sandbox (the review's finding (c)). No
// ses:Recipients condition holds the mailer to any address: who it mails
// is the code's (docs/security.md "Processors told by email").
// (Passed on the template under review.)
func TestIAMReview7ProcmailMailerMaySendToAProcessorsContact(t *testing.T) {
	ses := func(identity string) string { return "arn:aws:ses:" + region + ":" + account + ":identity/" + identity }
	send := func(to ...string) map[string]any {
		return map[string]any{"ses:FromAddress": "privacy@example.com", "ses:ApiVersion": "2", "ses:Recipients": to}
	}
	check(t, []ask{
		{"MailerFunction", "ses:SendEmail", ses("example.com"), send(pmContact), true},
		{"MailerFunction", "ses:SendEmail", ses(pmContact), send(pmContact), true},
		{"MailerFunction", "ses:SendEmail", ses("drift.example"), send(pmContact), true},
		// Not from the stack's sender: refused, whoever the recipient.
		{"MailerFunction", "ses:SendEmail", ses(pmContact), map[string]any{"ses:FromAddress": pmContact, "ses:ApiVersion": "2",
			"ses:Recipients": []string{pmContact}}, false},
	})
}

// Finding (d), low: docs/security.md ("Processors told by email") says
// the contact address is mailed only by a delivery of a request it takes
// and the email carries nothing else of the person. That is the code's
// promise, not IAM's: the mailer mails whatever a delivery item on the
// requests stream names (contact_email, identity_value, mail_due
// processor_asked), and RightsFunction, which the internet reaches, may
// put such an item under any request's key (Sid Requests: PutItem on the
// whole RequestsTable, no dynamodb:Attributes condition). It must: its
// fulfilment writes the deliveries of an erasure or a restriction
// (dynamo.Store.SetOutcome), so IAM cannot narrow it while fulfilment
// runs there. A compromised RightsFunction can therefore have the stack
// send a processor_request, from the company's verified sender with a
// validly signed confirmation link, to any address with any "person"
// text. (Passed on the template under review: it states the fact.)
func TestIAMReview7ProcmailInternetFacingMayQueueAnyProcessorEmail(t *testing.T) {
	delivery := []string{"contact_email", "id", "identity_format", "identity_value", "kind", "mail_due", "pk", "processor_id",
		"processor_name", "sk", "state", "status", "type"}
	check(t, []ask{
		{"RightsFunction", "dynamodb:PutItem", table("RequestsTable"), keys([]string{"R#any-request"}, delivery...), true},
		// The forms function, also internet-facing, may not.
		{"FormsFunction", "dynamodb:PutItem", table("RequestsTable"), keys([]string{"R#any-request"}, delivery...), false},
	})
}

// Finding (c), medium: a processor's contact address is an address no one
// verified in SES. While the account (in that region) is in the SES
// sandbox, SES refuses it: "You can only send mail to verified email
// addresses and domains, or to the Amazon SES mailbox simulator" (SES
// developer guide, "Request production access"), with MessageRejected,
// "Email address is not verified" (the SES emulator of the local stack
// takes any address, so no e2e test meets it). shared/ses reads
// MessageRejected as permanent (notify.ErrRejected), and the mailer
// settles it: the sent-marker says rejected, the email is never tried
// again, and nothing touches the delivery. It stays "emailed" and open:
// the requester's status page says the processor was "asked by email;
// waiting for their confirmation", and 30 days later the digest, the
// deadline board and privacyctl processor overdue say "not confirmed
// within 30 days" of a processor that was never told (GDPR Art. 19). The
// template says nothing of verifying processors' addresses
// (docs/deploy.md asks to leave the sandbox before the first deploy, for
// other reasons). The stream record of a delivery by email goes through
// the real mailer (mailer.Mailer.Handle, dynamo.DecodeChange, the real
// ses.Sender against an endpoint that answers as the sandbox does); the
// SES request is allowed by MailerFunctionRole, as AWS evaluates it. The
// check: a refused processor email leaves a mark on the delivery (its
// request's team sees it), not only on the sent-marker.
// (Fails on the code under review: no request writes the delivery.)
func TestIAMReview7ProcmailRefusedProcessorEmailReachesTheTeam(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var sesMu sync.Mutex
	var sesReqs []iamsim.Request
	sesSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		checks, err := awsreq.SESv2(r.Method, r.URL.Path, body, region, account)
		sesMu.Lock()
		if err == nil {
			sesReqs = append(sesReqs, checks...)
		}
		sesMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "MessageRejected")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: `+pmContact+`"}`)
	}))
	t.Cleanup(sesSrv.Close)
	signer, err := token.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDREVIEW", "secret", "")}
	var failed []string
	reqs, ops := requestsProcmail(t, func(ctx context.Context, st *dynamo.Store) error {
		// The delivery's INSERT, as the requests stream delivers it.
		item, err := attributevalue.UnmarshalMapJSON([]byte(pmDelivery))
		if err != nil {
			return err
		}
		m := &mailer.Mailer{Markers: st, Requests: st,
			Sender: &ses.Sender{Client: ses.NewClient(cfg, sesSrv.URL), From: "privacy@example.com"},
			Config: notify.Config{Company: "Example Inc.", BaseURL: "https://privacy.example.com", PolicyURL: "https://example.com/privacy",
				TeamInbox: "team@example.com"},
			Tokens: signer, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, Lease: 2 * time.Minute}
		failed = m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(
			privacy.Change{Seq: "1", Source: "arn:aws:dynamodb:us-east-1:000000000000:table/RequestsTable/stream/x"},
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "R#" + pmRequest},
				"sk": &types.AttributeValueMemberS{Value: "RCPT#" + pmProcessor}}, nil, item)})
		return nil
	})
	if len(sesReqs) == 0 {
		t.Fatal("the mailer sent no processor_request to SES")
	}
	for _, r := range decide7(t, "MailerFunction", sesReqs) {
		t.Errorf("MailerFunction: %s", r)
	}
	for _, r := range decide7(t, "MailerFunction", reqs) {
		t.Errorf("MailerFunction: %s", r)
	}
	if len(failed) != 0 {
		t.Errorf("batch failures %v: the refusal was retried, not settled", failed)
	}
	marked := false
	for _, r := range reqs {
		if strings.HasSuffix(r.Resource, "/RequestsTable") && r.Action != "dynamodb:GetItem" {
			marked = true
		}
	}
	if !marked {
		t.Errorf("SES refused the processor's email for good (sandbox: its contact unverified) and the mailer sent only %v, "+
			"none to the requests table: the delivery stays emailed and open, its requester is told the processor was asked, "+
			"and the team hears of it 30 days later as \"not confirmed\"", ops)
	}
}
