// Command privacyctl is the privacy team's operator command. It acts with
// the caller's AWS credentials, so IAM decides who may do what, and records
// the caller's identity with every decision; with -endpoint (or
// DYNAMODB_ENDPOINT) it works against DynamoDB Local.
//
// It is a table of commands (commands), each with its own flags and help:
// "privacyctl help" lists them, "privacyctl help COMMAND" (or COMMAND -h)
// tells one. The logic is in shared/rights and the adapters; this file
// parses flags and prints.
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
	"maps"
	"net/url"
	"os"
	"os/user"
	"slices"
	"sort"
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
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// command is one of privacyctl's commands: its name (one word, or two for
// a group such as "hold add"), its arguments, what it does, its own flags,
// and how it runs. ids is how many positional arguments it takes.
type command struct {
	name, args, help string
	ids              int
	flags            func(fs *flag.FlagSet, o *options)
	run              func(ctx context.Context, c *cli, pos []string) error
}

// synopsis is the command with its arguments.
func (c *command) synopsis() string { return strings.TrimSpace(c.name + " " + c.args) }

// commands is every command, in the order help lists them.
var commands = []command{
	{name: "list", args: "[-status S[,S]] [-overdue] [-json]", help: "rights requests by due date (the open ones by default)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.status, "status", "", "statuses, comma-separated (default: the open ones)")
			fs.BoolVar(&o.overdue, "overdue", false, "only requests past their deadline")
			fs.BoolVar(&o.asJSON, "json", false, "print JSON")
		}, run: list},
	{name: "show", args: "ID", ids: 1, help: "one request with its ledger entries (and the legal hold that withholds it)", run: show},
	{name: "approve", args: "ID", ids: 1,
		help: "fulfil a verified request held for review, or apply a rectification's correction to everything held of the " +
			"person (needs -secret-arn in AWS: a new address is keyed with the stack's secret)", run: decision(approve, true)},
	{name: "deny", args: "ID -reason TEXT", ids: 1, help: "refuse a request; the requester is emailed the reason",
		flags: reasonFlag("the reason (the requester reads it)"), run: decision(deny, false)},
	{name: "extend", args: "ID -reason TEXT [-until YYYY-MM-DD]", ids: 1,
		help: "extend the deadline (GDPR: up to two more months, CCPA: 45 days); the requester is emailed the reason",
		flags: func(fs *flag.FlagSet, o *options) {
			reasonFlag("the reason (the requester reads it)")(fs, o)
			fs.StringVar(&o.until, "until", "", "the new deadline, YYYY-MM-DD (default: the furthest allowed)")
		}, run: decision(extend, false)},
	{name: "complete", args: "ID [-note TEXT]", ids: 1, help: "close a rectification the team has carried out; the requester is told",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.note, "note", "", "what was corrected (the requester reads it)")
		}, run: decision(complete, false)},
	{name: "uphold", args: "ID [-erase] [-note TEXT]", ids: 1,
		help: "uphold an objection to all processing on legitimate interest: the data stays restricted, or with -erase " +
			"what is not needed is erased; the requester is told (to override it with compelling grounds, deny it)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.erase, "erase", false, "erase the person's data (a legal hold still withholds it)")
			fs.StringVar(&o.note, "note", "", "what was done (the requester reads it)")
		}, run: decision(uphold, false)},
	{name: "lift", args: "ID -reason TEXT", ids: 1, help: "lift a restriction of processing (a restriction request's, or an upheld objection's); the requester is told",
		flags: reasonFlag("the reason (the requester reads it)"), run: decision(lift, false)},
	{name: "terminate-client", args: "-email ADDRESS [-reference TEXT] | -controller ID",
		help: "start the 12-month deletion clock of a terminated client, or of everything an OpenDSR controller handed over",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.email, "email", "", "the client's address")
			fs.StringVar(&o.ref, "reference", "", "the written request's reference")
			fs.StringVar(&o.controller, "controller", "", "an OpenDSR controller's id")
		}, run: terminateClient},
	{name: "opendsr-controller", args: "-name NAME", help: "issue OpenDSR (HTTP Basic) credentials to a controller; the secret is shown once",
		flags: nameFlag("the controller's name"), run: issueController},
	{name: "opendsr-retention", args: "ID -days N", ids: 1,
		help: "keep a controller's records N days after their last write (0: until it erases them)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.days, "days", -1, "days a record is kept after its last write (0: no limit)")
		}, run: controllerRetention},
	{name: "opendsr-revoke", args: "ID", ids: 1, help: "revoke a controller's credentials", run: revokeController},
	{name: "processor add", args: "-name NAME -url URL -credentials USER:PASSWORD -certificate FILE",
		help: "register a processor of the site's data (its OpenDSR v2 base URL): every erasure is then sent to it " +
			"(GDPR Art. 19); its discovery is checked first",
		flags: func(fs *flag.FlagSet, o *options) {
			nameFlag("the processor's name")(fs, o)
			fs.StringVar(&o.url, "url", "", "the processor's OpenDSR v2 base URL (…/opendsr/v2)")
			fs.StringVar(&o.credentials, "credentials", "", "its HTTP Basic credentials, USER:PASSWORD")
			fs.StringVar(&o.certificate, "certificate", "", "the PEM file of the certificate that signs its answers")
		}, run: processorAdd},
	{name: "processor list", help: "the registered processors", run: processorList},
	{name: "processor remove", args: "ID", ids: 1, help: "stop telling a processor (what is queued for it still goes)", run: processorRemove},
	{name: "hold add", args: "-email ADDRESS -reason TEXT [-until YYYY-MM-DD]",
		help: "put a person's data under a legal hold: erasures are withheld, the sweep keeps it",
		flags: func(fs *flag.FlagSet, o *options) {
			holdFlags(fs, o)
			fs.StringVar(&o.until, "until", "", "when the hold ends, YYYY-MM-DD (default: when it is lifted)")
		}, run: holdAdd},
	{name: "hold lift", args: "-email ADDRESS -reason TEXT", help: "end a legal hold", flags: holdFlags, run: holdLift},
	{name: "hold list", help: "every legal hold (subject hash, since, until, reason)", run: holdList},
	{name: "suppression show", args: "-email ADDRESS", help: "why marketing to an address is held back: each reason, since when, lifted when",
		flags: func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.email, "email", "", "the person's address") }, run: suppressionShow},
	{name: "suppression lift", args: "-email ADDRESS -reason TEXT [-only REASON[,REASON]]",
		help: "lift the reasons marketing to an address is held back (all in force, or -only those); an erasure's record " +
			"is kept, marked lifted, so a restore's re-applied erasure still deletes what was erased; the ledger records it",
		flags: func(fs *flag.FlagSet, o *options) {
			holdFlags(fs, o)
			fs.StringVar(&o.only, "only", "", "the reasons to lift, comma-separated (default: every one in force)")
		}, run: suppressionLift},
	{name: "policy publish", args: "-version V -effective YYYY-MM-DD -summary TEXT [-material] [-new-purpose TOPIC]...",
		help: "publish a version of the privacy policy (history is never rewritten): it is in force from its day, with no " +
			"deploy; a material one is told once to every confirmed subscriber and every person with an open request, a " +
			"new purpose is offered to subscribers with a double opt-in link (nobody is enrolled)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.version, "version", "", "the version's name, as records carry it")
			fs.StringVar(&o.effective, "effective", "", "the day it takes force, YYYY-MM-DD (its \"Last updated\")")
			fs.StringVar(&o.summary, "summary", "", "what changed, as the notice says it")
			fs.BoolVar(&o.material, "material", false, "a material change: tell everyone with a live relationship")
			fs.Var(&o.newPurposes, "new-purpose", "a topic this version adds (repeatable); subscribers are offered it")
		}, run: policyPublish},
	{name: "policy list", args: "[-json]", help: "the published versions, the one in force, and how each one's notices stand",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, run: policyList},
	{name: "campaign status", args: "ID [-json]", ids: 1,
		help: "how a campaign stands: planned, sent, skipped (suppressed, restricted, not on the topic), rejected, failed " +
			"(batches that come back; after five tries they wait in the campaign dead-letter queue)",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, run: campaignStatus},
	{name: "retention backfill", args: "[-json]",
		help: "once, after the upgrade that added the retention indexes: file every item written before under its next " +
			"retention due time (one scan of each swept table; the sweep never scans); safe to run again and while serving",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, run: retentionBackfill},
	{name: "reapply-erasures", args: "[-since YYYY-MM-DD]",
		help: "after a point-in-time restore: erase again, by key, everyone the (live) suppression list says was erased, " +
			"and every person a controller had erased",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.since, "since", "", "only erasures since this date, YYYY-MM-DD (default: all)")
		}, run: reapplyErasures},
	{name: "replay", args: "-queue-url URL [-max N]",
		help: "feed the failure queue's records (the output FailureQueueUrl) back to their functions once the cause is " +
			"fixed; each is deleted once its replay succeeded (locally: -sqs-endpoint and -invoke-url http://localhost:3000)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.queueURL, "queue-url", os.Getenv("FAILURE_QUEUE_URL"), "the failure queue's URL (the stack's output FailureQueueUrl)")
			fs.StringVar(&o.sqsEndpoint, "sqs-endpoint", os.Getenv("SQS_ENDPOINT"), "the SQS endpoint (the local SQS server in development)")
			fs.StringVar(&o.invokeURL, "invoke-url", "", "invoke through the local gateway at this URL instead of Lambda")
			fs.IntVar(&o.max, "max", 0, "at most this many messages (0: all)")
		}, run: replayFailures},
}

func reasonFlag(what string) func(*flag.FlagSet, *options) {
	return func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.reason, "reason", "", what) }
}

func nameFlag(what string) func(*flag.FlagSet, *options) {
	return func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.name, "name", "", what) }
}

func holdFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.email, "email", "", "the person's address")
	fs.StringVar(&o.reason, "reason", "", "why (the team's; never told to the requester)")
}

// commonFlags are every command's: where the stack is, and who acts.
func commonFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.endpoint, "endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "DynamoDB endpoint (DynamoDB Local in development)")
	fs.StringVar(&o.stage, "stage", envOr("STAGE", "dev"), "the stack's stage; table names default to <stage>-…Table")
	fs.StringVar(&o.requests, "requests-table", os.Getenv("REQUESTS_TABLE"), "requests table name")
	fs.StringVar(&o.subjects, "subjects-table", os.Getenv("SUBJECTS_TABLE"), "subjects table name")
	fs.StringVar(&o.ledger, "ledger-table", os.Getenv("LEDGER_TABLE"), "ledger table name")
	fs.StringVar(&o.ops, "ops-table", os.Getenv("OPS_TABLE"), "ops table name")
	fs.StringVar(&o.suppression, "suppression-table", os.Getenv("SUPPRESSION_TABLE"), "suppression table name")
	fs.StringVar(&o.records, "records-table", os.Getenv("RECORDS_TABLE"), "records table name (controllers' records)")
	fs.StringVar(&o.secretArn, "secret-arn", os.Getenv("SECRET_ARN"), "the stack's AppSecret ARN (else LOCAL_SECRET is used)")
	fs.StringVar(&o.policy, "policy-version", envOr("POLICY_VERSION", "2018-07-10"),
		"the privacy policy version in force until one is published (privacyctl policy publish)")
	fs.StringVar(&o.as, "as", "", "who acts (default: the AWS caller identity, or the local user with -endpoint)")
}

const commonHelp = `Every command also takes: -endpoint URL (DynamoDB Local), -stage NAME (table names <stage>-…Table),
-requests-table/-subjects-table/-ledger-table/-ops-table/-suppression-table/-records-table NAME,
-secret-arn ARN, -policy-version V, -as NAME. "privacyctl help COMMAND" tells one command's flags.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "privacyctl:", err)
		if errors.Is(err, errUsage) {
			c, _ := lookup(os.Args[1:])
			usage(os.Stderr, c)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

type options struct {
	endpoint, stage, requests, subjects, ledger, ops, suppression, secretArn string
	policy, as, status, reason, note, until, email, ref, name, controller    string
	records, url, credentials, certificate, queueURL, sqsEndpoint, invokeURL string
	since, only, version, effective, summary                                 string
	newPurposes                                                              multi
	max, days                                                                int
	overdue, asJSON, erase, material                                         bool
}

// multi is a flag given once per value.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// lookup finds the command args start with: a group's two words, or one.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):]
		}
	}
	return nil, args
}

// usage prints the list of commands, or one command's help and flags.
func usage(w io.Writer, c *command) {
	if c == nil {
		fmt.Fprint(w, "usage: privacyctl COMMAND [ID] [flags]\n\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis(), c.help)
		}
		fmt.Fprint(w, "\n"+commonHelp)
		return
	}
	fmt.Fprintf(w, "usage: privacyctl %s\n\n%s\n", c.synopsis(), c.help)
	if c.flags != nil {
		fmt.Fprint(w, "\nflags:\n")
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs, &options{})
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprint(w, "\n"+commonHelp)
}

// parse reads a command's flags (its own and the common ones) and its
// positional arguments, which may come before or after the flags.
func parse(c *command, args []string) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	commonFlags(fs, &o)
	if c.flags != nil {
		c.flags(fs, &o)
	}
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return o, nil, fmt.Errorf("%w: %s: %v", errUsage, c.name, err)
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) != c.ids {
		return o, nil, fmt.Errorf("%w: %s", errUsage, c.synopsis())
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

// cli is what a command runs with: its options, the AWS configuration,
// the store and where it prints.
type cli struct {
	o     options
	cfg   aws.Config
	db    *dynamodb.Client
	store *dynamo.Store
	out   io.Writer
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		c, _ := lookup(args[1:])
		usage(out, c)
		return nil
	}
	c, rest := lookup(args)
	if c == nil {
		return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args[:min(2, len(args))], " "))
	}
	for _, a := range rest {
		if a == "-h" || a == "-help" || a == "--help" {
			usage(out, c) // before any AWS call
			return nil
		}
	}
	o, pos, err := parse(c, rest)
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
	return c.run(ctx, &cli{o: o, cfg: cfg, db: db, store: store, out: out}, pos)
}

// inForce is the policy version in force: the latest published one whose
// day has come, or -policy-version before any was published.
func inForce(store *dynamo.Store, o options) privacy.PolicyInForce {
	warn := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return policy.NewCache(store, o.policy, 0, warn).InForce
}

func (c *cli) inForce() privacy.PolicyInForce { return inForce(c.store, c.o) }

// desk is the rights desk, acting as the caller.
func (c *cli) desk(ctx context.Context) (*rights.Desk, error) {
	by, err := identity(ctx, c.cfg, c.o)
	if err != nil {
		return nil, err
	}
	return &rights.Desk{Store: c.store, Now: time.Now, NewID: uuid.NewString, By: by,
		Fulfiller: &rights.Fulfiller{Store: c.store, Policy: c.inForce(),
			Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}}, nil
}

func list(ctx context.Context, c *cli, _ []string) error {
	desk, err := c.desk(ctx)
	if err != nil {
		return err
	}
	var statuses []string
	if c.o.status != "" {
		statuses = strings.Split(c.o.status, ",")
	}
	reqs, err := desk.List(ctx, statuses, c.o.overdue)
	if err != nil {
		return err
	}
	return printList(c.out, reqs, c.o.asJSON)
}

func show(ctx context.Context, c *cli, pos []string) error {
	desk, err := c.desk(ctx)
	if err != nil {
		return err
	}
	req, ledger, err := desk.Show(ctx, pos[0])
	if err != nil {
		return err
	}
	view := map[string]any{"request": req, "overdue": rights.Overdue(req, time.Now()), "ledger": ledger}
	if req.Subject != "" && req.Source == "" {
		// The team sees why an erasure was withheld (the requester is
		// told only that a legal obligation keeps the data).
		h, ok, err := c.store.SubjectHold(ctx, req.Subject)
		if err != nil {
			return err
		}
		if ok {
			view["legal_hold"] = map[string]any{"reason": h.Reason, "placed_by": h.PlacedBy, "placed_at": h.PlacedAt,
				"until": h.Until, "in_force": h.InForce(time.Now())}
		}
	}
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(view)
}

// decision runs one of the desk's decisions on the request named; do
// returns what to print. withHasher gives the desk the subject hasher.
func decision(do func(ctx context.Context, d *rights.Desk, id string, o options) (string, error), withHasher bool) func(context.Context, *cli, []string) error {
	return func(ctx context.Context, c *cli, pos []string) error {
		d, err := c.desk(ctx)
		if err != nil {
			return err
		}
		if withHasher {
			// An approved correction of an address keys the new address.
			if d.Hasher, err = hasher(ctx, c.cfg, c.o); err != nil {
				return err
			}
		}
		msg, err := do(ctx, d, pos[0], c.o)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.out, msg)
		return nil
	}
}

func approve(ctx context.Context, d *rights.Desk, id string, _ options) (string, error) {
	status, err := d.Approve(ctx, id)
	return fmt.Sprintf("request %s approved: %s", id, status), err
}

func deny(ctx context.Context, d *rights.Desk, id string, o options) (string, error) {
	return fmt.Sprintf("request %s denied; the requester is emailed the reason", id), d.Deny(ctx, id, o.reason)
}

func extend(ctx context.Context, d *rights.Desk, id string, o options) (string, error) {
	var until time.Time
	if o.until != "" {
		day, err := time.Parse("2006-01-02", o.until)
		if err != nil {
			return "", fmt.Errorf("%w: -until must be YYYY-MM-DD", errUsage)
		}
		until = day.Add(24*time.Hour - time.Second) // the end of that day, UTC
	}
	until, err := d.Extend(ctx, id, o.reason, until)
	return fmt.Sprintf("request %s now due %s; the requester is emailed the reason", id, until.Format(time.RFC3339)), err
}

func complete(ctx context.Context, d *rights.Desk, id string, o options) (string, error) {
	return fmt.Sprintf("request %s completed; the requester is told", id), d.Complete(ctx, id, o.note)
}

func uphold(ctx context.Context, d *rights.Desk, id string, o options) (string, error) {
	if o.erase {
		return fmt.Sprintf("objection %s upheld and the data erased; the requester is told", id), d.Uphold(ctx, id, true, o.note)
	}
	return fmt.Sprintf("objection %s upheld, the data kept restricted; the requester is told", id), d.Uphold(ctx, id, false, o.note)
}

func lift(ctx context.Context, d *rights.Desk, id string, o options) (string, error) {
	return fmt.Sprintf("restriction of request %s lifted; the requester is told", id), d.Lift(ctx, id, o.reason)
}

func controllerRetention(ctx context.Context, c *cli, pos []string) error {
	if c.o.days < 0 {
		return fmt.Errorf("%w: opendsr-retention needs -days N (0 or more)", errUsage)
	}
	if err := c.store.SetControllerRetention(ctx, pos[0], c.o.days); errors.Is(err, privacy.ErrNotFound) {
		return fmt.Errorf("no controller %s", pos[0])
	} else if err != nil {
		return err
	}
	if c.o.days == 0 {
		fmt.Fprintf(c.out, "controller %s: records kept until it erases them (or 12 months after its termination)\n", pos[0])
	} else {
		fmt.Fprintf(c.out, "controller %s: records deleted by the sweep %d days after their last write\n", pos[0], c.o.days)
	}
	return nil
}

func revokeController(ctx context.Context, c *cli, pos []string) error {
	if err := c.store.RevokeController(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "controller %s revoked\n", pos[0])
	return nil
}

func reapplyErasures(ctx context.Context, c *cli, _ []string) error {
	var since time.Time
	if c.o.since != "" {
		var err error
		if since, err = time.Parse("2006-01-02", c.o.since); err != nil {
			return fmt.Errorf("%w: -since must be YYYY-MM-DD", errUsage)
		}
	}
	rep, err := rights.ReapplyErasures(ctx, c.store, since, time.Now().UTC(), c.inForce()(ctx).Version)
	b, _ := json.Marshal(rep)
	fmt.Fprintf(c.out, "%s\n", b)
	return err
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

func terminateClient(ctx context.Context, c *cli, _ []string) error {
	cfg, store, o, out := c.cfg, c.store, c.o, c.out
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
		At: now, Ref: o.ref, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: inForce(store, o)(ctx).Version})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d records marked; the retention sweep deletes them after %s\n", n,
		privacy.Retention().ClientTermination.From(now).Format("2 January 2006"))
	return nil
}

// issueController creates OpenDSR credentials: a random id and secret,
// stored as a keyed hash; the secret is printed once and never again.
func issueController(ctx context.Context, c *cli, _ []string) error {
	cfg, store, o, out := c.cfg, c.store, c.o, c.out
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

func processorList(ctx context.Context, c *cli, _ []string) error {
	ps, err := c.store.Processors(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tURL\tIDENTITY\tTYPES")
	for _, p := range ps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.URL, p.IdentityFormat, strings.Join(p.Types, ","))
	}
	return w.Flush()
}

func processorRemove(ctx context.Context, c *cli, pos []string) error {
	if err := c.store.RemoveProcessor(ctx, pos[0]); errors.Is(err, privacy.ErrNotFound) {
		return fmt.Errorf("no processor %s", pos[0])
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "processor %s removed\n", pos[0])
	return nil
}

// processorAdd registers a processor the site's erasures are told to,
// once its signed discovery says how to name people to it.
func processorAdd(ctx context.Context, c *cli, _ []string) error {
	cfg, store, o, out := c.cfg, c.store, c.o, c.out
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
func replayFailures(ctx context.Context, c *cli, _ []string) error {
	cfg, o, out := c.cfg, c.o, c.out
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

func holdList(ctx context.Context, c *cli, _ []string) error {
	hs, err := c.store.Holds(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
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

// heldSubject is the subject of a hold command's -email, with the ledger
// entry of what is done to its hold.
func heldSubject(ctx context.Context, c *cli, name string) (privacy.SubjectID, privacy.Event, error) {
	if strings.TrimSpace(c.o.reason) == "" {
		return "", privacy.Event{}, fmt.Errorf("%w: the hold commands need -email ADDRESS and -reason TEXT", errUsage)
	}
	subject, err := subjectOf(ctx, c)
	if err != nil {
		return "", privacy.Event{}, err
	}
	return subject, privacy.Event{Subject: subject, Name: name, At: time.Now().UTC(), LegalBasis: privacy.BasisLegalObligation,
		PolicyVersion: c.inForce()(ctx).Version}, nil
}

func holdLift(ctx context.Context, c *cli, _ []string) error {
	subject, e, err := heldSubject(ctx, c, "legal_hold_lifted")
	if err != nil {
		return err
	}
	if err := c.store.LiftHold(ctx, subject, e); errors.Is(err, privacy.ErrNotFound) {
		return fmt.Errorf("no legal hold on that address")
	} else if err != nil {
		return err
	}
	fmt.Fprintln(c.out, "legal hold lifted; erasures and the retention sweep apply again")
	return nil
}

func holdAdd(ctx context.Context, c *cli, _ []string) error {
	by, err := identity(ctx, c.cfg, c.o)
	if err != nil {
		return err
	}
	subject, e, err := heldSubject(ctx, c, "legal_hold_placed")
	if err != nil {
		return err
	}
	hold := privacy.Hold{Subject: subject, Reason: strings.TrimSpace(c.o.reason), PlacedBy: by, PlacedAt: e.At}
	if c.o.until != "" {
		d, err := time.Parse("2006-01-02", c.o.until)
		if err != nil || !d.After(e.At) {
			return fmt.Errorf("%w: -until must be a future date, YYYY-MM-DD", errUsage)
		}
		hold.Until = d
	}
	if err := c.store.PlaceHold(ctx, hold, e); err != nil {
		return err
	}
	fmt.Fprintln(c.out, "legal hold placed: erasures of that address are withheld and the sweep keeps its data")
	return nil
}

func suppressionShow(ctx context.Context, c *cli, _ []string) error {
	subject, err := subjectOf(ctx, c)
	if err != nil {
		return err
	}
	recs, err := c.store.SuppressionRecords(ctx, subject)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		fmt.Fprintln(c.out, "no suppression: marketing may go to this address (to the topics it confirmed)")
		return nil
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REASON\tSINCE\tLIFTED\tIN FORCE")
	for _, r := range recs {
		lifted := "-"
		if !r.LiftedAt.IsZero() {
			lifted = r.LiftedAt.Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", r.Reason, r.Since.Format(time.DateOnly), lifted, r.InForce())
	}
	return w.Flush()
}

func suppressionLift(ctx context.Context, c *cli, _ []string) error {
	if strings.TrimSpace(c.o.reason) == "" {
		return fmt.Errorf("%w: suppression lift needs -reason TEXT", errUsage)
	}
	subject, err := subjectOf(ctx, c)
	if err != nil {
		return err
	}
	by, err := identity(ctx, c.cfg, c.o)
	if err != nil {
		return err
	}
	inForce, err := c.store.Suppressions(ctx, subject)
	if err != nil {
		return err
	}
	lift := inForce
	if c.o.only != "" {
		lift = nil
		for _, r := range strings.Split(c.o.only, ",") {
			if !slices.Contains(inForce, r) {
				return fmt.Errorf("%q is not a reason in force for that address (in force: %s)", r, strings.Join(inForce, ", "))
			}
			lift = append(lift, r)
		}
	}
	if len(lift) == 0 {
		fmt.Fprintln(c.out, "nothing to lift: no suppression in force")
		return nil
	}
	e := privacy.Event{Subject: subject, Name: "suppression_lifted", At: time.Now().UTC(), Ref: "privacy-team",
		LegalBasis: privacy.BasisConsent, PolicyVersion: c.inForce()(ctx).Version,
		Detail: map[string]string{"reasons": strings.Join(lift, ","), "by": by, "reason": strings.TrimSpace(c.o.reason)}}
	if err := c.store.LiftSuppressions(ctx, subject, lift, e); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "lifted: %s\n", strings.Join(lift, ", "))
	return nil
}

// subjectOf is the subject of the command's -email.
func subjectOf(ctx context.Context, c *cli) (privacy.SubjectID, error) {
	email := privacy.NormalizeEmail(c.o.email)
	if !privacy.ValidEmail(email) {
		return "", fmt.Errorf("%w: -email must be a valid address", errUsage)
	}
	h, err := hasher(ctx, c.cfg, c.o)
	if err != nil {
		return "", err
	}
	return h.Subject(email), nil
}

// policyPublish records a policy version; the notices function makes its
// notices due (each person once, at the configured rate).
func policyPublish(ctx context.Context, c *cli, _ []string) error {
	day, err := time.Parse(time.DateOnly, c.o.effective)
	if err != nil {
		return fmt.Errorf("%w: -effective must be a day, YYYY-MM-DD", errUsage)
	}
	by, err := identity(ctx, c.cfg, c.o)
	if err != nil {
		return err
	}
	v, err := policy.Publish(privacy.PolicyVersion{Version: c.o.version, Effective: day, Summary: c.o.summary,
		Material: c.o.material, NewPurposes: c.o.newPurposes, PublishedAt: time.Now().UTC(), PublishedBy: by})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := c.store.PublishPolicy(ctx, v); errors.Is(err, privacy.ErrExists) {
		return fmt.Errorf("version %s was published before; a published version is never changed: publish a new one", v.Version)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "policy %s published, in force from %s; notices: %s\n", v.Version, v.LastUpdated(), v.Notices.State)
	return nil
}

func policyList(ctx context.Context, c *cli, _ []string) error {
	vs, err := c.store.PolicyVersions(ctx)
	if err != nil {
		return err
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].PublishedAt.Before(vs[j].PublishedAt) })
	current := c.inForce()(ctx).Version
	if c.o.asJSON {
		return json.NewEncoder(c.out).Encode(map[string]any{"in_force": current, "versions": vs})
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tEFFECTIVE\tMATERIAL\tNEW PURPOSES\tNOTICES\tSUBSCRIBERS\tREQUESTERS\tPUBLISHED BY")
	for _, v := range vs {
		mark := ""
		if v.Version == current {
			mark = " (in force)"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%v\t%s\t%s\t%d\t%d\t%s\n", v.Version, mark, v.LastUpdated(), v.Material,
			strings.Join(v.NewPurposes, ","), v.Notices.State, v.Notices.Subscribers, v.Notices.Requesters, v.PublishedBy)
	}
	if len(vs) == 0 {
		fmt.Fprintf(w, "%s (in force, the template's; none published)\t\t\t\t\t\t\t\n", current)
	}
	return w.Flush()
}

func campaignStatus(ctx context.Context, c *cli, pos []string) error {
	st, found, err := campaign.ReadStatus(ctx, c.store, pos[0])
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no campaign %q", pos[0])
	}
	if c.o.asJSON {
		return json.NewEncoder(c.out).Encode(st)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for _, row := range []struct {
		k string
		v any
	}{{"campaign", st.ID}, {"topic", st.Topic}, {"state", st.State}, {"planned", st.Planned},
		{"batches", fmt.Sprintf("%d (%d tried)", st.Batches, st.Reported)}, {"sent", st.Sent},
		{"skipped: suppressed", st.Suppressed}, {"skipped: restricted", st.Restricted}, {"skipped: not on the topic", st.NotOnTopic},
		{"rejected", st.Rejected}, {"failed (to retry)", st.Failed}, {"started", st.Created.Format(time.RFC3339)}} {
		fmt.Fprintf(w, "%s\t%v\n", row.k, row.v)
	}
	return w.Flush()
}

func retentionBackfill(ctx context.Context, c *cli, _ []string) error {
	counts, err := dynamo.BackfillRetention(ctx, c.db, map[privacy.Table]string{privacy.TableSubjects: c.o.subjects,
		privacy.TableLedger: c.o.ledger, privacy.TableRequests: c.o.requests, privacy.TableOps: c.o.ops})
	if c.o.asJSON {
		if jerr := json.NewEncoder(c.out).Encode(counts); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "table\tread\tfiled\n")
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(w, "%s\t%d\t%d\n", t, counts[t].Read, counts[t].Filed)
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	return err
}
