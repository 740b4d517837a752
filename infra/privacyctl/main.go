// Command privacyctl is the privacy team's operator command. It acts with
// the caller's AWS credentials, so IAM decides who may do what, and records
// the caller's identity with every decision; with -endpoint (or
// DYNAMODB_ENDPOINT) it works against DynamoDB Local.
//
//	privacyctl list [-status S[,S]] [-overdue]   requests by due date (open ones by default)
//	privacyctl show ID                           one request and its ledger
//	privacyctl approve ID                        fulfil a request held for review
//	privacyctl deny ID -reason TEXT              refuse it; the requester is emailed the reason
//	privacyctl extend ID -reason TEXT [-until D] extend the deadline (at most what the law allows)
//	privacyctl complete ID [-note TEXT]          close a rectification the team carried out
//	privacyctl lift ID -reason TEXT              lift a restriction; the requester is told
//	privacyctl terminate-client -email ADDRESS   start the 12-month clock for a client's data
//	privacyctl terminate-client -controller ID   the same for every record a controller handed over
//	privacyctl opendsr-controller -name NAME     issue OpenDSR credentials to a controller
//	privacyctl opendsr-retention ID -days N      how long a controller's records are kept after their last write
//	privacyctl opendsr-revoke ID                 revoke them
//	privacyctl processor add -name N -url U -credentials USER:PASS -certificate FILE
//	                                             register a processor the site's erasures are told to (Art. 19)
//	privacyctl processor list | remove ID
//	privacyctl replay -queue-url URL [-max N]    feed what Lambda gave up on back to its function, once
//	privacyctl hold add|lift|list -email A -reason TEXT [-until D]   legal holds
//	privacyctl reapply-erasures [-since D]       erase again everyone erased, after a restore
//
// The logic is shared/rights (Desk); this file parses flags and prints.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/replay"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

const usage = `usage: privacyctl COMMAND [ID] [flags]

  list [-status S[,S]] [-overdue]   rights requests by due date (the open ones by default)
  show ID                           one request with its ledger entries
  approve ID                        fulfil a verified request held for review
  deny ID -reason TEXT              refuse a request; the requester is emailed the reason
  extend ID -reason TEXT [-until YYYY-MM-DD]
                                    extend the deadline (GDPR: up to two more months, CCPA: 45 days)
  complete ID [-note TEXT]          close a rectification the team has carried out
  lift ID -reason TEXT              lift a restriction of processing; the requester is told
  terminate-client -email ADDRESS [-reference TEXT]
                                    start the 12-month deletion clock of a terminated client
  terminate-client -controller ID   start it for every record an OpenDSR controller handed over
  opendsr-controller -name NAME     issue OpenDSR (HTTP Basic) credentials to a controller; the secret is shown once
  opendsr-retention ID -days N      keep a controller's records N days after their last write (0: until it erases them)
  opendsr-revoke ID                 revoke a controller's credentials
  processor add -name NAME -url URL -credentials USER:PASSWORD -certificate FILE
                                    register a processor of the site's data (its OpenDSR v2 base URL): every
                                    erasure is then sent to it (GDPR Art. 19); its discovery is checked first
  processor list                    the registered processors
  processor remove ID               stop telling a processor (what is queued for it still goes)
  hold add -email ADDRESS -reason TEXT [-until YYYY-MM-DD]
                                    put a person's data under a legal hold: erasures are withheld, the sweep keeps it
  hold lift -email ADDRESS -reason TEXT
                                    end it
  hold list                         every legal hold (subject hash, since, until, reason)
  reapply-erasures [-since YYYY-MM-DD]
                                    after a point-in-time restore: erase again, by key, everyone the (live)
                                    suppression list says was erased, and every person a controller had erased
  replay -queue-url URL [-max N]    feed the failure queue's records (the output FailureQueueUrl) back to their
                                    functions once the cause is fixed; each is deleted once its replay succeeded
                                    (locally: -sqs-endpoint and -invoke-url http://localhost:3000)
  backfill-digest-keys              give records written before the by-email-* indexes their digest keys (once, after the upgrade)

Common flags: -endpoint URL (DynamoDB Local), -stage NAME (table names <stage>-…Table),
-requests-table/-subjects-table/-ledger-table/-ops-table NAME, -secret-arn ARN, -as NAME.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "privacyctl:", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

var commands = []string{"list", "show", "approve", "deny", "extend", "complete", "lift", "terminate-client",
	"opendsr-controller", "opendsr-retention", "opendsr-revoke", "backfill-digest-keys", "processor", "replay", "hold", "reapply-erasures"}

type options struct {
	endpoint, stage, requests, subjects, ledger, ops, suppression, secretArn string
	policy, as, status, reason, note, until, email, ref, name, controller    string
	records, url, credentials, certificate, queueURL, sqsEndpoint, invokeURL string
	since                                                                    string
	max, days                                                                int
	overdue, asJSON                                                          bool
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func parse(cmd string, args []string) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.endpoint, "endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "DynamoDB endpoint (DynamoDB Local in development)")
	fs.StringVar(&o.stage, "stage", envOr("STAGE", "dev"), "the stack's stage; table names default to <stage>-…Table")
	fs.StringVar(&o.requests, "requests-table", os.Getenv("REQUESTS_TABLE"), "requests table name")
	fs.StringVar(&o.subjects, "subjects-table", os.Getenv("SUBJECTS_TABLE"), "subjects table name")
	fs.StringVar(&o.ledger, "ledger-table", os.Getenv("LEDGER_TABLE"), "ledger table name")
	fs.StringVar(&o.ops, "ops-table", os.Getenv("OPS_TABLE"), "ops table name")
	fs.StringVar(&o.suppression, "suppression-table", os.Getenv("SUPPRESSION_TABLE"), "suppression table name")
	fs.StringVar(&o.records, "records-table", os.Getenv("RECORDS_TABLE"), "records table name (controllers' records)")
	fs.StringVar(&o.name, "name", "", "opendsr-controller, processor add: the controller's or processor's name")
	fs.StringVar(&o.url, "url", "", "processor add: the processor's OpenDSR v2 base URL (…/opendsr/v2)")
	fs.StringVar(&o.credentials, "credentials", "", "processor add: its HTTP Basic credentials, USER:PASSWORD")
	fs.StringVar(&o.certificate, "certificate", "", "processor add: the PEM file of the certificate that signs its answers")
	fs.StringVar(&o.queueURL, "queue-url", os.Getenv("FAILURE_QUEUE_URL"), "replay: the failure queue's URL (the stack's output FailureQueueUrl)")
	fs.StringVar(&o.sqsEndpoint, "sqs-endpoint", os.Getenv("SQS_ENDPOINT"), "replay: the SQS endpoint (the local SQS server in development)")
	fs.StringVar(&o.invokeURL, "invoke-url", "", "replay: invoke through the local gateway at this URL instead of Lambda")
	fs.IntVar(&o.max, "max", 0, "replay: at most this many messages (0: all)")
	fs.StringVar(&o.since, "since", "", "reapply-erasures: only erasures since this date, YYYY-MM-DD (default: all)")
	fs.StringVar(&o.secretArn, "secret-arn", os.Getenv("SECRET_ARN"), "the stack's AppSecret ARN (else LOCAL_SECRET is used)")
	fs.StringVar(&o.policy, "policy-version", envOr("POLICY_VERSION", "2018-07-10"), "privacy policy version")
	fs.StringVar(&o.as, "as", "", "who acts (default: the AWS caller identity, or the local user with -endpoint)")
	fs.StringVar(&o.status, "status", "", "list: statuses, comma-separated (default: the open ones)")
	fs.BoolVar(&o.overdue, "overdue", false, "list: only requests past their deadline")
	fs.BoolVar(&o.asJSON, "json", false, "list, show: print JSON")
	fs.StringVar(&o.reason, "reason", "", "deny, extend, lift: the reason (the requester reads it)")
	fs.StringVar(&o.note, "note", "", "complete: what was corrected (the requester reads it)")
	fs.StringVar(&o.until, "until", "", "extend: the new deadline, YYYY-MM-DD (default: the furthest allowed); hold add: when the hold ends")
	fs.StringVar(&o.email, "email", "", "terminate-client, hold: the person's address")
	fs.StringVar(&o.ref, "reference", "", "terminate-client: the written request's reference")
	fs.StringVar(&o.controller, "controller", "", "terminate-client: an OpenDSR controller's id")
	fs.IntVar(&o.days, "days", -1, "opendsr-retention: days a record is kept after its last write (0: no limit)")
	// The request id may come before or after the flags.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return o, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	table := func(v *string, logical string) {
		if *v == "" {
			*v = o.stage + "-" + logical
		}
	}
	table(&o.requests, "RequestsTable")
	table(&o.subjects, "SubjectsTable")
	table(&o.ledger, "LedgerTable")
	table(&o.ops, "OpsTable")
	table(&o.suppression, "SuppressionTable")
	table(&o.records, "RecordsTable")
	return o, pos, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd := args[0]
	if !slices.Contains(commands, cmd) {
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd) // -h too: before any AWS call
	}
	o, pos, err := parse(cmd, args[1:])
	if err != nil {
		return err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		if o.endpoint != "" {
			opt.BaseEndpoint = aws.String(o.endpoint)
		}
	})
	store := dynamo.New(db, dynamo.Tables{Requests: o.requests, Subjects: o.subjects, Ledger: o.ledger, Ops: o.ops, Records: o.records,
		Suppression: o.suppression})
	switch cmd {
	case "opendsr-retention":
		if len(pos) != 1 || o.days < 0 {
			return fmt.Errorf("%w: opendsr-retention needs a controller id and -days N (0 or more)", errUsage)
		}
		if err := store.SetControllerRetention(ctx, pos[0], o.days); errors.Is(err, privacy.ErrNotFound) {
			return fmt.Errorf("no controller %s", pos[0])
		} else if err != nil {
			return err
		}
		if o.days == 0 {
			fmt.Fprintf(out, "controller %s: records kept until it erases them (or 12 months after its termination)\n", pos[0])
		} else {
			fmt.Fprintf(out, "controller %s: records deleted by the sweep %d days after their last write\n", pos[0], o.days)
		}
		return nil
	case "terminate-client":
		return terminateClient(ctx, cfg, store, o, out)
	case "opendsr-controller":
		return issueController(ctx, cfg, store, o, out)
	case "backfill-digest-keys":
		h, err := hasher(ctx, cfg, o)
		if err != nil {
			return err
		}
		n, err := store.BackfillEmailKeys(ctx, h.EmailKeys)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d records given their digest keys\n", n)
		return nil
	case "processor":
		return processors(ctx, cfg, store, o, pos, out)
	case "replay":
		return replayFailures(ctx, cfg, o, out)
	case "reapply-erasures":
		var since time.Time
		if o.since != "" {
			if since, err = time.Parse("2006-01-02", o.since); err != nil {
				return fmt.Errorf("%w: -since must be YYYY-MM-DD", errUsage)
			}
		}
		rep, err := rights.ReapplyErasures(ctx, store, since, time.Now().UTC(), o.policy)
		b, _ := json.Marshal(rep)
		fmt.Fprintf(out, "%s\n", b)
		return err
	case "hold":
		by, err := identity(ctx, cfg, o)
		if err != nil {
			return err
		}
		return holds(ctx, cfg, store, o, by, pos, out)
	case "opendsr-revoke":
		if len(pos) != 1 {
			return fmt.Errorf("%w: opendsr-revoke needs a controller id", errUsage)
		}
		if err := store.RevokeController(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "controller %s revoked\n", pos[0])
		return nil
	}
	by, err := identity(ctx, cfg, o)
	if err != nil {
		return err
	}
	desk := &rights.Desk{Store: store, Now: time.Now, NewID: uuid.NewString, By: by,
		Fulfiller: &rights.Fulfiller{Store: store, PolicyVersion: o.policy,
			Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}}
	if cmd == "list" {
		var statuses []string
		if o.status != "" {
			statuses = strings.Split(o.status, ",")
		}
		reqs, err := desk.List(ctx, statuses, o.overdue)
		if err != nil {
			return err
		}
		return printList(out, reqs, o.asJSON)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s needs one request id", errUsage, cmd)
	}
	id := pos[0]
	switch cmd {
	case "show":
		req, ledger, err := desk.Show(ctx, id)
		if err != nil {
			return err
		}
		view := map[string]any{"request": req, "overdue": rights.Overdue(req, time.Now()), "ledger": ledger}
		if req.Subject != "" && req.Source == "" {
			// The team sees why an erasure was withheld (the requester is
			// told only that a legal obligation keeps the data).
			h, ok, err := store.SubjectHold(ctx, req.Subject)
			if err != nil {
				return err
			}
			if ok {
				view["legal_hold"] = map[string]any{"reason": h.Reason, "placed_by": h.PlacedBy, "placed_at": h.PlacedAt,
					"until": h.Until, "in_force": h.InForce(time.Now())}
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(view)
	case "approve":
		status, err := desk.Approve(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "request %s approved: %s\n", id, status)
	case "deny":
		if err := desk.Deny(ctx, id, o.reason); err != nil {
			return err
		}
		fmt.Fprintf(out, "request %s denied; the requester is emailed the reason\n", id)
	case "extend":
		var until time.Time
		if o.until != "" {
			d, err := time.Parse("2006-01-02", o.until)
			if err != nil {
				return fmt.Errorf("%w: -until must be YYYY-MM-DD", errUsage)
			}
			until = d.Add(24*time.Hour - time.Second) // the end of that day, UTC
		}
		until, err := desk.Extend(ctx, id, o.reason, until)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "request %s now due %s; the requester is emailed the reason\n", id, until.Format(time.RFC3339))
	case "complete":
		if err := desk.Complete(ctx, id, o.note); err != nil {
			return err
		}
		fmt.Fprintf(out, "request %s completed; the requester is told\n", id)
	case "lift":
		if err := desk.Lift(ctx, id, o.reason); err != nil {
			return err
		}
		fmt.Fprintf(out, "restriction of request %s lifted; the requester is told\n", id)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	return nil
}

// identity names who acts: -as, else the AWS caller (an ARN), else, against
// DynamoDB Local, the local user.
func identity(ctx context.Context, cfg aws.Config, o options) (string, error) {
	if o.as != "" {
		return o.as, nil
	}
	if o.endpoint != "" {
		if u, err := user.Current(); err == nil {
			return "local:" + u.Username, nil
		}
		return "local", nil
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("who is acting (sts get-caller-identity): %w", err)
	}
	return aws.ToString(who.Arn), nil
}

func printList(out io.Writer, reqs []privacy.RightsRequest, asJSON bool) error {
	now := time.Now()
	if asJSON {
		type row struct {
			privacy.RightsRequest
			Overdue bool `json:"overdue"`
		}
		rows := make([]row, 0, len(reqs))
		for _, r := range reqs {
			r.Email, r.Name, r.Details = "", "", "" // list shows no personal data; show does
			rows = append(rows, row{r, rights.Overdue(r, now)})
		}
		return json.NewEncoder(out).Encode(rows)
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTYPE\tSTATUS\tREGULATION\tRECEIVED\tDUE\tFLAGS")
	for _, r := range reqs {
		var flags []string
		if rights.Overdue(r, now) {
			flags = append(flags, "OVERDUE")
		}
		if !r.ExtendedUntil.IsZero() {
			flags = append(flags, "extended")
		}
		if r.Excessive {
			flags = append(flags, "possibly-excessive")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, r.Status, r.Regulation, r.ReceivedAt.Format(time.DateOnly),
			r.DueAt.Format(time.DateOnly), strings.Join(flags, ","))
	}
	return w.Flush()
}

// hasher derives the stack's subject hasher from its master secret: the
// AppSecret in AWS (-secret-arn), LOCAL_SECRET or the development default.
func hasher(ctx context.Context, cfg aws.Config, o options) (*privacy.Hasher, error) {
	s, err := secrets(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	return privacy.NewHasher(s.SubjectPepper)
}

// secrets derives the stack's keys from its secret (AppSecret, or
// LOCAL_SECRET in development).
func secrets(ctx context.Context, cfg aws.Config, o options) (lambdaenv.Secrets, error) {
	master := os.Getenv("LOCAL_SECRET")
	if o.secretArn != "" {
		sec, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &o.secretArn})
		if err != nil {
			return lambdaenv.Secrets{}, fmt.Errorf("read secret: %w", err)
		}
		master = aws.ToString(sec.SecretString)
	}
	if master == "" {
		master = lambdaenv.LocalSecret
	}
	return lambdaenv.DeriveSecrets(master), nil
}

func terminateClient(ctx context.Context, cfg aws.Config, store *dynamo.Store, o options, out io.Writer) error {
	if o.controller != "" {
		if o.email != "" {
			return fmt.Errorf("%w: -email or -controller, not both", errUsage)
		}
		now := time.Now()
		if err := store.TerminateController(ctx, o.controller, now); errors.Is(err, privacy.ErrNotFound) {
			return fmt.Errorf("no controller %s", o.controller)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "controller %s terminated; the retention sweep deletes every record it handed over after %s\n", o.controller,
			now.AddDate(0, 0, privacy.ControllerTerminationDays).Format("2 January 2006"))
		return nil
	}
	email := privacy.NormalizeEmail(o.email)
	if !privacy.ValidEmail(email) {
		return fmt.Errorf("%w: -email must be a valid address", errUsage)
	}
	h, err := hasher(ctx, cfg, o)
	if err != nil {
		return err
	}
	subject := h.Subject(email)
	now := time.Now()
	n, err := store.MarkClientTerminated(ctx, subject, privacy.Event{Subject: subject, Name: "client_termination_requested",
		At: now, Ref: o.ref, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.policy})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d records marked; the retention sweep deletes them after %s\n", n,
		privacy.Retention().ClientTermination.From(now).Format("2 January 2006"))
	return nil
}

// issueController creates OpenDSR credentials: a random id and secret,
// stored as a keyed hash; the secret is printed once and never again.
func issueController(ctx context.Context, cfg aws.Config, store *dynamo.Store, o options, out io.Writer) error {
	if strings.TrimSpace(o.name) == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	h, err := hasher(ctx, cfg, o)
	if err != nil {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	id, secret := uuid.NewString(), base64.RawURLEncoding.EncodeToString(b)
	if err := store.PutController(ctx, privacy.Controller{ID: id, Name: o.name, SecretHash: processor.SecretHash(h, secret)}, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(out, "controller_id %s\nsecret %s\n", id, secret)
	return nil
}

// processors registers, lists and removes the processors the site's
// erasures are told to.
func processors(ctx context.Context, cfg aws.Config, store *dynamo.Store, o options, pos []string, out io.Writer) error {
	if len(pos) == 0 {
		return fmt.Errorf("%w: processor add|list|remove", errUsage)
	}
	switch pos[0] {
	case "list":
		ps, err := store.Processors(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tURL\tIDENTITY\tTYPES")
		for _, p := range ps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.URL, p.IdentityFormat, strings.Join(p.Types, ","))
		}
		return w.Flush()
	case "remove":
		if len(pos) != 2 {
			return fmt.Errorf("%w: processor remove needs an id", errUsage)
		}
		if err := store.RemoveProcessor(ctx, pos[1]); errors.Is(err, privacy.ErrNotFound) {
			return fmt.Errorf("no processor %s", pos[1])
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "processor %s removed\n", pos[1])
		return nil
	case "add":
	default:
		return fmt.Errorf("%w: processor add|list|remove", errUsage)
	}
	u, err := url.Parse(o.url)
	user, _, hasPass := strings.Cut(o.credentials, ":")
	switch {
	case strings.TrimSpace(o.name) == "":
		return fmt.Errorf("%w: -name is required", errUsage)
	case err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && o.endpoint != "")):
		return fmt.Errorf("%w: -url must be the processor's https OpenDSR v2 base URL", errUsage)
	case !hasPass || user == "":
		return fmt.Errorf("%w: -credentials must be USER:PASSWORD", errUsage)
	case o.certificate == "":
		return fmt.Errorf("%w: -certificate is required (the PEM file of the processor's signing certificate)", errUsage)
	}
	certPEM, err := os.ReadFile(o.certificate)
	if err != nil {
		return err
	}
	pub, err := recipients.CertificateKey(string(certPEM))
	if err != nil {
		return fmt.Errorf("-certificate: %w", err)
	}
	// Its discovery, signed with that certificate's key, says how to name
	// people to it and that it takes erasures.
	format, types, err := recipients.Discover(ctx, opendsr.NewClient(o.endpoint != ""), o.url, pub)
	if err != nil {
		return err
	}
	sec, err := secrets(ctx, cfg, o)
	if err != nil {
		return err
	}
	id := uuid.NewString()
	sealed, err := recipients.Seal(sec.CredentialKey, id, o.credentials)
	if err != nil {
		return err
	}
	p := privacy.Processor{ID: id, Name: strings.TrimSpace(o.name), URL: strings.TrimRight(o.url, "/"), Credentials: sealed,
		Certificate: string(certPEM), IdentityFormat: format, Types: types}
	if err := store.PutProcessor(ctx, p, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(out, "processor %s registered: told of every %s, naming the person by %s\n", id, strings.Join(types, ", "), format)
	return nil
}

// replayFailures feeds the failure queue's records back to their functions.
func replayFailures(ctx context.Context, cfg aws.Config, o options, out io.Writer) error {
	if o.queueURL == "" {
		return fmt.Errorf("%w: replay needs -queue-url (the stack's output FailureQueueUrl)", errUsage)
	}
	r := &replay.Replayer{QueueURL: o.queueURL, Log: out,
		Queue: sqs.NewFromConfig(cfg, func(opt *sqs.Options) {
			if o.sqsEndpoint != "" {
				opt.BaseEndpoint = aws.String(o.sqsEndpoint)
			}
		}),
		Streams: dynamodbstreams.NewFromConfig(cfg, func(opt *dynamodbstreams.Options) {
			if o.endpoint != "" {
				opt.BaseEndpoint = aws.String(o.endpoint)
			}
		}),
		Invoker: replay.Lambda{Client: lambda.NewFromConfig(cfg)}}
	if o.invokeURL != "" {
		r.Invoker = replay.Gateway{URL: o.invokeURL}
	}
	rep, err := r.Run(ctx, o.max)
	fmt.Fprintf(out, "%d replayed, %d failed again (left in the queue)\n", rep.Replayed, rep.Failed)
	if err == nil && rep.Failed > 0 {
		err = fmt.Errorf("%d messages failed again", rep.Failed)
	}
	return err
}

// holds places, lifts and lists legal holds.
func holds(ctx context.Context, cfg aws.Config, store *dynamo.Store, o options, by string, pos []string, out io.Writer) error {
	if len(pos) != 1 || !slices.Contains([]string{"add", "lift", "list"}, pos[0]) {
		return fmt.Errorf("%w: hold add|lift|list", errUsage)
	}
	now := time.Now().UTC()
	if pos[0] == "list" {
		hs, err := store.Holds(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SUBJECT\tSINCE\tUNTIL\tIN FORCE\tBY\tREASON")
		for _, h := range hs {
			until := "-"
			if !h.Until.IsZero() {
				until = h.Until.Format("2006-01-02")
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\n", h.Subject[:12], h.PlacedAt.Format("2006-01-02"), until, h.InForce(now),
				h.PlacedBy, h.Reason)
		}
		return w.Flush()
	}
	email := privacy.NormalizeEmail(o.email)
	if !privacy.ValidEmail(email) || strings.TrimSpace(o.reason) == "" {
		return fmt.Errorf("%w: hold %s needs -email ADDRESS and -reason TEXT", errUsage, pos[0])
	}
	h, err := hasher(ctx, cfg, o)
	if err != nil {
		return err
	}
	subject := h.Subject(email)
	e := privacy.Event{Subject: subject, At: now, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.policy}
	if pos[0] == "lift" {
		e.Name = "legal_hold_lifted"
		if err := store.LiftHold(ctx, subject, e); errors.Is(err, privacy.ErrNotFound) {
			return fmt.Errorf("no legal hold on that address")
		} else if err != nil {
			return err
		}
		fmt.Fprintln(out, "legal hold lifted; erasures and the retention sweep apply again")
		return nil
	}
	hold := privacy.Hold{Subject: subject, Reason: strings.TrimSpace(o.reason), PlacedBy: by, PlacedAt: now}
	if o.until != "" {
		d, err := time.Parse("2006-01-02", o.until)
		if err != nil || !d.After(now) {
			return fmt.Errorf("%w: -until must be a future date, YYYY-MM-DD", errUsage)
		}
		hold.Until = d
	}
	e.Name = "legal_hold_placed"
	if err := store.PlaceHold(ctx, hold, e); err != nil {
		return err
	}
	fmt.Fprintln(out, "legal hold placed: erasures of that address are withheld and the sweep keeps its data")
	return nil
}
