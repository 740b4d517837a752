// Command privacyctl is the privacy team's operator command. The team's
// actions (list, show and decide requests, holds, suppressions,
// controllers, processors, policy versions, campaign status) are asked of
// the operator function through its IAM-authorised route (-api, the stack's
// output OperatorUrl), signed with the caller's AWS credentials: IAM
// decides who may, the function holds the tables and the stack's secret,
// and the ledger names the caller. The maintenance commands
// (reapply-erasures, retention backfill, replay) run here with the
// caller's own table access (PrivacyMaintenancePolicy; retention backfill
// PrivacyBackfillPolicy); with -endpoint
// they work against DynamoDB Local.
//
// It is a table of commands (commands), each with its own flags and help:
// "privacyctl help" lists them, "privacyctl help COMMAND" (or COMMAND -h)
// tells one. The logic is in shared/operator and the adapters; this file
// parses flags and prints.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/privacykeeper/privacykeeper/infra/replay"
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
	"github.com/privacykeeper/privacykeeper/shared/report"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/ropa"
	"github.com/privacykeeper/privacykeeper/shared/sdkhttp"
)

// command is one of privacyctl's commands: its name (one word, or two for
// a group such as "hold add"), its arguments, what it does, its own flags,
// and how it runs. ids is how many positional arguments it takes.
//
// A team action has ask: the operator action of the same name is asked
// with the arguments ask makes of the flags, and show prints its answer
// (nil: its message). A maintenance command has run instead, and works
// on the tables itself.
type command struct {
	name, args, help string
	ids              int
	// why: a team action on the system (a controller, a processor), which
	// takes -reason: the audit records it with who took it.
	why   bool
	flags func(fs *flag.FlagSet, o *options)
	ask   func(o options) (operator.Args, error)
	show  func(out io.Writer, data json.RawMessage, o options) error
	run   func(ctx context.Context, c *cli, pos []string) error
}

// ownFlags registers the command's flags, and -reason for a team action.
func (c *command) ownFlags(fs *flag.FlagSet, o *options) {
	if c.flags != nil {
		c.flags(fs, o)
	}
	if c.why {
		fs.StringVar(&o.reason, "reason", "", "why: the audit (privacyctl audit) records it with who took it")
	}
}

// synopsis is the command with its arguments.
func (c *command) synopsis() string {
	s := strings.TrimSpace(c.name + " " + c.args)
	if c.why {
		s += " [-reason TEXT]"
	}
	return s
}

// maintenance reports whether the command works on the tables itself.
func (c *command) maintenance() bool { return c.run != nil }

func none(options) (operator.Args, error) { return operator.Args{}, nil }

func withReason(o options) (operator.Args, error) { return operator.Args{Reason: o.reason}, nil }

func withEmail(o options) (operator.Args, error) { return operator.Args{Email: o.email}, nil }

func withHold(o options) (operator.Args, error) {
	return operator.Args{Email: o.email, Reason: o.reason, Until: o.until}, nil
}

// commands is every command, in the order help lists them.
var commands = []command{
	{name: "list", args: "[-status S[,S]] [-overdue] [-json]", help: "rights requests by due date (the open ones by default)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.status, "status", "", "statuses, comma-separated (default: the open ones)")
			fs.BoolVar(&o.overdue, "overdue", false, "only requests past their deadline")
			fs.BoolVar(&o.asJSON, "json", false, "print JSON")
		}, ask: func(o options) (operator.Args, error) {
			a := operator.Args{Overdue: o.overdue}
			if o.status != "" {
				for _, s := range strings.Split(o.status, ",") {
					a.Status = append(a.Status, privacy.Status(s))
				}
			}
			return a, nil
		}, show: printList},
	{name: "show", args: "ID", ids: 1, help: "one request with its ledger entries (and the legal hold that withholds it); the ledger records the view",
		ask: none, show: printJSON},
	{name: "approve", args: "ID", ids: 1,
		help: "fulfil a verified request held for review, or apply a rectification's correction to everything held of the person",
		ask:  none},
	{name: "enter", args: "-email ADDRESS -type TYPE -channel email|phone|post|in_person -received YYYY-MM-DD [-identity TEXT] [-name N] [-details TEXT] [-regulation R] [-scope S] [-lang L]",
		help: "enter a request that reached the team by email, phone, post or in person, due from the day it was received; " +
			"with -identity (how you checked it is the person) it is carried out at once, without it the person is sent the verification link",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.email, "email", "", "the person's address: the request is theirs and is answered there")
			fs.StringVar(&o.name, "name", "", "the person's name")
			fs.StringVar(&o.entry.typ, "type", "", "the right: access, rectification, erasure, objection, restriction, portability, withdraw_consent, opt_out_of_sale, know_categories")
			fs.StringVar(&o.entry.details, "details", "", "what the person asked, in their words")
			fs.StringVar(&o.entry.regulation, "regulation", "", "gdpr (default), ccpa or other")
			fs.StringVar(&o.entry.scope, "scope", "", "an objection's: marketing (default) or all")
			fs.StringVar(&o.entry.lang, "lang", "", "the language to answer in: en (default), de, fr")
			fs.StringVar(&o.entry.channel, "channel", "", "how it reached us: email, phone, post or in_person")
			fs.StringVar(&o.entry.received, "received", "", "the day it reached us, YYYY-MM-DD (the deadline counts from it)")
			fs.StringVar(&o.entry.identity, "identity", "", "how you checked it is the person (recorded in the ledger); leave out to send the verification link")
		}, ask: func(o options) (operator.Args, error) {
			e := o.entry
			return operator.Args{Email: o.email, Name: o.name, Type: e.typ, Details: e.details, Regulation: e.regulation, Scope: e.scope,
				Lang: e.lang, Channel: e.channel, Received: e.received, Identity: e.identity}, nil
		}},
	{name: "deny", args: "ID -reason TEXT", ids: 1, help: "refuse a request; the requester is emailed the reason",
		flags: reasonFlag("the reason (the requester reads it)"), ask: withReason},
	{name: "extend", args: "ID -reason TEXT [-until YYYY-MM-DD]", ids: 1,
		help: "extend the deadline (GDPR: up to two more months, CCPA: 45 days); the requester is emailed the reason",
		flags: func(fs *flag.FlagSet, o *options) {
			reasonFlag("the reason (the requester reads it)")(fs, o)
			fs.StringVar(&o.until, "until", "", "the new deadline, YYYY-MM-DD (default: the furthest allowed)")
		}, ask: func(o options) (operator.Args, error) { return operator.Args{Reason: o.reason, Until: o.until}, nil }},
	{name: "ask", args: "ID -question TEXT", ids: 1,
		help: "ask the requester of a verified request for the information needed to answer it; they are emailed the question " +
			"with a link to answer, the request waits for them (the deadline stays: under the GDPR the clock does not stop)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.question, "question", "", "the question (the requester reads it)")
		}, ask: func(o options) (operator.Args, error) { return operator.Args{Question: o.question}, nil }},
	{name: "complete", args: "ID [-note TEXT]", ids: 1, help: "close a rectification the team has carried out; the requester is told",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.note, "note", "", "what was corrected (the requester reads it)")
		}, ask: func(o options) (operator.Args, error) { return operator.Args{Note: o.note}, nil }},
	{name: "uphold", args: "ID [-erase] [-note TEXT]", ids: 1,
		help: "uphold an objection to all processing on legitimate interest: the data stays restricted, or with -erase " +
			"what is not needed is erased; the requester is told (to override it with compelling grounds, deny it)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.erase, "erase", false, "erase the person's data (a legal hold still withholds it)")
			fs.StringVar(&o.note, "note", "", "what was done (the requester reads it)")
		}, ask: func(o options) (operator.Args, error) { return operator.Args{Erase: o.erase, Note: o.note}, nil }},
	{name: "lift", args: "ID -reason TEXT", ids: 1, help: "lift a restriction of processing (a restriction request's, or an upheld objection's); the requester is told",
		flags: reasonFlag("the reason (the requester reads it)"), ask: withReason},
	{name: "terminate-client", why: true, args: "-email ADDRESS [-reference TEXT] | -controller ID",
		help: "start the 12-month deletion clock of a terminated client, or revoke an OpenDSR controller's credentials and start it for everything it handed over",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.email, "email", "", "the client's address")
			fs.StringVar(&o.ref, "reference", "", "the written request's reference")
			fs.StringVar(&o.controller, "controller", "", "an OpenDSR controller's id")
		}, ask: func(o options) (operator.Args, error) {
			return operator.Args{Email: o.email, Reference: o.ref, Controller: o.controller}, nil
		}},
	{name: "opendsr-controller", why: true, args: "-name NAME -region us|eu",
		help: "issue OpenDSR (HTTP Basic) credentials to a controller whose data is kept in the region (the stack's own); the secret is shown once",
		flags: func(fs *flag.FlagSet, o *options) {
			nameFlag("the controller's name")(fs, o)
			regionFlag(fs, o)
		}, ask: func(o options) (operator.Args, error) { return operator.Args{Name: o.name, Region: o.region}, nil }},
	{name: "opendsr-region", why: true, args: "ID -region us|eu", ids: 1,
		help:  "record, once, where a controller registered before regions chose its data kept (no stack serves it until then)",
		flags: regionFlag, ask: func(o options) (operator.Args, error) { return operator.Args{Region: o.region}, nil }},
	{name: "opendsr-retention", why: true, args: "ID -days N", ids: 1,
		help: "keep a controller's records N days after their last write (0: until it erases them)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.days, "days", -1, "days a record is kept after its last write (0: no limit)")
		}, ask: func(o options) (operator.Args, error) {
			if o.days < 0 {
				return operator.Args{}, fmt.Errorf("%w: opendsr-retention needs -days N (0 or more)", errUsage)
			}
			return operator.Args{Days: &o.days}, nil
		}},
	{name: "opendsr-revoke", why: true, args: "ID", ids: 1, help: "revoke a controller's credentials", ask: none},
	{name: "opendsr-controllers", help: "the OpenDSR controllers (id, name, region, since, retention, terminated; never a credential)",
		ask: none, show: printJSON},
	{name: "processor add", why: true, args: "-name NAME (-url URL -credentials USER:PASSWORD -certificate FILE [-contact ADDRESS] | -contact ADDRESS)",
		help: "ask to register a processor of the site's data (its OpenDSR v2 base URL): once another team member approves " +
			"the ask (processor approve), every erasure is sent to it " +
			"(GDPR Art. 19); its discovery is checked first; with a privacy -contact address, every rectification and " +
			"restriction (which OpenDSR has no request for) is emailed there, else the deadline board lists each as not told. " +
			"One without an API is registered by its privacy -contact address alone: every erasure, rectification and " +
			"restriction is emailed to it, with a link to confirm it done. Nothing is registered until the approval",
		flags: func(fs *flag.FlagSet, o *options) {
			nameFlag("the processor's name")(fs, o)
			fs.StringVar(&o.url, "url", "", "the processor's OpenDSR v2 base URL (…/opendsr/v2)")
			fs.StringVar(&o.contact, "contact", "", "the processor's privacy contact address (alone: a processor without an OpenDSR API)")
			fs.StringVar(&o.credentials, "credentials", "", "its HTTP Basic credentials, USER:PASSWORD")
			fs.StringVar(&o.certificate, "certificate", "", "the PEM file of the certificate that signs its answers")
		}, ask: func(o options) (operator.Args, error) {
			if o.url == "" {
				return operator.Args{Name: o.name, Contact: o.contact, Credentials: o.credentials}, nil
			}
			if o.certificate == "" {
				return operator.Args{}, fmt.Errorf("%w: -certificate is required (the PEM file of the processor's signing certificate)", errUsage)
			}
			pem, err := os.ReadFile(o.certificate)
			if err != nil {
				return operator.Args{}, err
			}
			return operator.Args{Name: o.name, URL: o.url, Credentials: o.credentials, Certificate: string(pem), Contact: o.contact}, nil
		}},
	{name: "processor list", help: "the registered processors", ask: none, show: printProcessors},
	{name: "processor overdue", help: "the processors to follow up: deliveries that failed, and processors told by email " +
		"whose confirmation is overdue (30 days)", ask: none, show: printJSON},
	{name: "audit", args: "[-from YYYY-MM-DD] [-to YYYY-MM-DD] [-format table|jsonl|csv]",
		help: "every team action of a period (controllers issued, changed, revoked, terminated; processors asked, registered, removed, their contact change asked and made; " +
			"legal holds placed, lifted; suppression lifts asked, approved, made; policy versions published), each with who, " +
			"when, on what (an id, a version, a subject hash) and why, oldest first",
		flags: func(fs *flag.FlagSet, o *options) {
			periodFlags(fs, o)
			fs.StringVar(&o.format, "format", "table", "table, jsonl (one JSON object a line) or csv")
		}, ask: func(o options) (operator.Args, error) {
			if o.format != "table" && !slices.Contains(operator.AuditFormats, o.format) {
				return operator.Args{}, fmt.Errorf("%w: -format must be table, jsonl or csv", errUsage)
			}
			return withPeriod(o)
		}, show: printAudit},
	{name: "report", args: "[-from YYYY-MM-DD] [-to YYYY-MM-DD] [-json]",
		help: "the rights requests of a period (default: this month so far), for the regulator and the DPO: by type, received, " +
			"closed, overdue, median and 95th percentile days to close; extensions with their reasons; denials by reason " +
			"(computed from the requests themselves)",
		flags: func(fs *flag.FlagSet, o *options) {
			periodFlags(fs, o)
			fs.BoolVar(&o.asJSON, "json", false, "print JSON")
		}, ask: withPeriod, show: printReport},
	{name: "ropa", args: "[-json]", help: "the record of processing activities (GDPR Art. 30), built from the code's tables, the policy " +
		"version in force and the processors registered (the console's Record of processing page prints it)",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, ask: none, show: printRecord},
	{name: "processor remove", why: true, args: "ID", ids: 1, help: "stop telling a processor (what is queued for it still goes)", ask: none},
	{name: "processor contact", why: true, args: "ID -contact ADDRESS", ids: 1,
		help: "ask to change a registered processor's privacy contact address (a reason is required); once another team member " +
			"approves the ask (processor approve), everything it is emailed goes there, the requests already waiting for its email " +
			"included, and the former address is told; a new ask replaces the one waiting; the audit names the domains, never the address",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.contact, "contact", "", "the processor's new privacy contact address")
		}, ask: func(o options) (operator.Args, error) {
			if o.contact == "" {
				return operator.Args{}, fmt.Errorf("%w: processor contact needs -contact ADDRESS", errUsage)
			}
			return operator.Args{Contact: o.contact}, nil
		}},
	{name: "processor approve", why: true, args: "ASK", ids: 1,
		help: "approve another team member's processor ask (processor asks lists them) within 72 hours, saying what you checked " +
			"(a reason is required): the processor is registered, or its contact changed, as asked. Your own ask, one replaced " +
			"by a newer ask or lapsed, and one over a processor changed or removed since are refused", ask: none},
	{name: "processor asks", help: "the processor registrations and contact changes waiting for a second team member's approval",
		ask: none, show: printJSON},
	{name: "hold add", args: "-email ADDRESS -reason TEXT [-until YYYY-MM-DD]",
		help: "put a person's data under a legal hold: erasures are withheld, the sweep keeps it",
		flags: func(fs *flag.FlagSet, o *options) {
			holdFlags(fs, o)
			fs.StringVar(&o.until, "until", "", "when the hold ends, YYYY-MM-DD (default: when it is lifted)")
		}, ask: withHold},
	{name: "hold lift", args: "-email ADDRESS -reason TEXT", help: "end a legal hold", flags: holdFlags, ask: withHold},
	{name: "hold list", help: "every legal hold (subject hash, since, until, reason)", ask: none, show: printHolds},
	{name: "suppression show", args: "-email ADDRESS", help: "why marketing to an address is held back: each reason, since when, lifted when",
		flags: func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.email, "email", "", "the person's address") },
		ask:   withEmail, show: printSuppressions},
	{name: "person", args: "-email ADDRESS",
		help:  "what is held of an address: its suppressions, legal hold and rights requests (found by its subject hash); the ledger records the view",
		flags: func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.email, "email", "", "the person's address") },
		ask:   withEmail, show: printJSON},
	{name: "suppression lift", args: "-email ADDRESS -reason TEXT [-only REASON[,REASON]]",
		help: "lift the reasons marketing to an address is held back (all in force, or -only those); an erasure's record " +
			"is kept, marked lifted, so a restore's re-applied erasure still deletes what was erased; the ledger records it. " +
			"A complaint or an objection needs two team members: the first one's lift is an ask, another's same lift approves it",
		flags: func(fs *flag.FlagSet, o *options) {
			holdFlags(fs, o)
			fs.StringVar(&o.only, "only", "", "the reasons to lift, comma-separated (default: every one in force)")
		}, ask: func(o options) (operator.Args, error) {
			a := operator.Args{Email: o.email, Reason: o.reason}
			if o.only != "" {
				a.Only = strings.Split(o.only, ",")
			}
			return a, nil
		}},
	{name: "policy publish", why: true, args: "-version V -effective YYYY-MM-DD -summary TEXT [-material] [-new-purpose TOPIC]... [-basis PURPOSE=BASIS]...",
		help: "publish a version of the privacy policy (history is never rewritten): it is in force from its day, with no " +
			"deploy; a material one is told once to every confirmed subscriber and every person with an open request, a " +
			"new purpose is offered to subscribers with a double opt-in link (nobody is enrolled); a version states the legal basis " +
			"of each purpose (those not given stay as in force), and one that changes a basis must be material",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.version, "version", "", "the version's name, as records carry it")
			fs.StringVar(&o.effective, "effective", "", "the day it takes force, YYYY-MM-DD (its \"Last updated\")")
			fs.StringVar(&o.summary, "summary", "", "what changed, as the notice says it")
			fs.BoolVar(&o.material, "material", false, "a material change: tell everyone with a live relationship")
			fs.Var(&o.newPurposes, "new-purpose", "a topic this version adds (repeatable); subscribers are offered it")
			fs.Var(&o.bases, "basis", "PURPOSE=BASIS, the legal basis this version states for a purpose (repeatable): purposes "+
				strings.Join(privacy.StatedPurposes(), ", ")+"; bases "+strings.Join(privacy.LegalBases(), ", "))
		}, ask: func(o options) (operator.Args, error) {
			bases := map[string]string{}
			for _, pb := range o.bases {
				p, b, ok := strings.Cut(pb, "=")
				if !ok {
					return operator.Args{}, fmt.Errorf("-basis %q: want PURPOSE=BASIS", pb)
				}
				bases[p] = b
			}
			return operator.Args{Version: o.version, Effective: o.effective, Summary: o.summary, Material: o.material,
				NewPurposes: o.newPurposes, Bases: bases}, nil
		}},
	{name: "policy list", args: "[-json]", help: "the published versions, the one in force, and how each one's notices stand",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, ask: none, show: printPolicies},
	{name: "campaign status", args: "ID [-json]", ids: 1,
		help: "how a campaign stands: planned, sent, skipped (suppressed, restricted, not on the topic), rejected, failed " +
			"(batches that come back; after five tries they wait in the campaign dead-letter queue)",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, ask: none, show: printCampaign},
	{name: "retention backfill", args: "[-json]",
		help: "maintenance, once after the upgrade that added the retention indexes: file every item written before under " +
			"its next retention due time (one scan of each swept table; the sweep never scans); safe to run again and while serving",
		flags: func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.asJSON, "json", false, "print JSON") }, run: retentionBackfill},
	{name: "reapply-erasures", args: "[-since YYYY-MM-DD]",
		help: "maintenance, after a point-in-time restore: erase again, by key, everyone the (live) suppression list says " +
			"was erased, and every person a controller had erased",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.since, "since", "", "only erasures since this date, YYYY-MM-DD (default: all)")
		}, run: reapplyErasures},
	{name: "platform upgrade-records", args: "[-dry-run]",
		help: "maintenance (PrivacyUpgradePolicy), once after an upgrade of the Platform's storage: rewrite each controller " +
			"record written before issue #35 (one email kept raw) in the new form, its keys as lookups and the raw address " +
			"removed; move each OpenDSR request still in the site's requests table to the Platform's; give each OpenDSR " +
			"request without identity keys its subject's; safe to run again and while serving",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.dryRun, "dry-run", false, "count what would be rewritten, write nothing")
		}, run: upgradeRecords},
	{name: "ledger verify", args: "[-from YYYY-MM-DD] [-jwks URL] [-json]",
		help: "maintenance: recompute every ledger entry's hash and every sealed day's Merkle root, check each root's " +
			"signature against the published keys, and name each entry changed, inserted or deleted, each bad signature, " +
			"each day missing between sealed ones and each redaction no erasure names; fails when it finds any",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.from, "from", "", "only the days from this one, YYYY-MM-DD (default: all)")
			fs.StringVar(&o.jwks, "jwks", "", "check the roots against this key set, e.g. https://…/.well-known/jwks.json "+
				"(default: the keys published in the ops table)")
			fs.StringVar(&o.rootsTable, "roots-table", os.Getenv("LEDGER_ROOTS_TABLE"), "the ledger's roots table (default <stage>-LedgerRootsTable)")
			fs.BoolVar(&o.asJSON, "json", false, "print JSON")
		}, run: ledgerVerify},
	{name: "replay", args: "-queue-url URL [-max N]",
		help: "maintenance: feed the failure queue's records (the output FailureQueueUrl) back to their functions once the " +
			"cause is fixed: an asynchronous run invoked again, a stream batch's items marked replayed so that the stream " +
			"delivers them again; each is deleted once its replay succeeded",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.queueURL, "queue-url", os.Getenv("FAILURE_QUEUE_URL"), "the failure queue's URL (the stack's output FailureQueueUrl)")
			fs.StringVar(&o.sqsEndpoint, "sqs-endpoint", os.Getenv("SQS_ENDPOINT"), "the SQS endpoint (the local SQS server in development)")
			fs.IntVar(&o.max, "max", 0, "at most this many messages (0: all)")
		}, run: replayFailures},
}

func periodFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.from, "from", "", "the period's first day, YYYY-MM-DD")
	fs.StringVar(&o.to, "to", "", "the period's last day, YYYY-MM-DD (default: today)")
}

func withPeriod(o options) (operator.Args, error) { return operator.Args{From: o.from, To: o.to}, nil }

func reasonFlag(what string) func(*flag.FlagSet, *options) {
	return func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.reason, "reason", "", what) }
}

func nameFlag(what string) func(*flag.FlagSet, *options) {
	return func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.name, "name", "", what) }
}

func regionFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.region, "region", "", "where the controller chose its data kept: us or eu")
}

func holdFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.email, "email", "", "the person's address")
	fs.StringVar(&o.reason, "reason", "", "why (the team's; never told to the requester)")
}

// apiFlags are every team action's: where the operator route is.
func apiFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.api, "api", os.Getenv("PRIVACYCTL_API"),
		"the operator route, the stack's output OperatorUrl (make dev: http://localhost:3000/v1/operator)")
}

// tableFlags are every maintenance command's: where the tables are.
func tableFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.endpoint, "endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "DynamoDB endpoint (DynamoDB Local in development)")
	fs.StringVar(&o.stage, "stage", envOr("STAGE", "dev"), "the stack's stage; table names default to <stage>-…Table")
	fs.StringVar(&o.requests, "requests-table", os.Getenv("REQUESTS_TABLE"), "requests table name")
	fs.StringVar(&o.subjects, "subjects-table", os.Getenv("SUBJECTS_TABLE"), "subjects table name")
	fs.StringVar(&o.ledger, "ledger-table", os.Getenv("LEDGER_TABLE"), "ledger table name")
	fs.StringVar(&o.ops, "ops-table", os.Getenv("OPS_TABLE"), "ops table name")
	fs.StringVar(&o.suppression, "suppression-table", os.Getenv("SUPPRESSION_TABLE"), "suppression table name")
	fs.StringVar(&o.records, "records-table", os.Getenv("RECORDS_TABLE"), "records table name (controllers' records)")
	fs.StringVar(&o.platformRequests, "platform-requests-table", os.Getenv("PLATFORM_REQUESTS_TABLE"),
		"the Platform's requests table name (controllers' OpenDSR requests)")
	fs.StringVar(&o.policy, "policy-version", envOr("POLICY_VERSION", "2018-07-10"),
		"the privacy policy version in force until one is published (privacyctl policy publish)")
}

const commonHelp = `The team's actions also take -api URL (or PRIVACYCTL_API): the stack's output OperatorUrl; each call is
signed with your AWS credentials (your role needs PrivacyTeamPolicy), and the ledger names you.
The maintenance commands (retention backfill, reapply-erasures, platform upgrade-records, replay, ledger verify) work on the tables with your role's
own access (PrivacyMaintenancePolicy; retention backfill PrivacyBackfillPolicy; locally, AWS_ENDPOINT_URL=http://localhost:3000
and the keys of the maintenance user make dev prints, so the gateway checks each call against those policies) and take
-endpoint URL (DynamoDB Local), -stage NAME (table names
<stage>-…Table), -requests-table/-subjects-table/-ledger-table/-ops-table/-suppression-table/-records-table
NAME and -policy-version V. "privacyctl help COMMAND" tells one command's flags.
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
	api, endpoint, stage, requests, subjects, ledger, ops, suppression     string
	policy, status, reason, note, until, email, ref, name, controller      string
	question, region                                                       string
	records, url, credentials, certificate, queueURL, sqsEndpoint, contact string
	platformRequests                                                       string
	since, only, version, effective, summary                               string
	from, to, format, jwks, rootsTable                                     string
	entry                                                                  entryFlags
	newPurposes, bases                                                     multi
	max, days                                                              int
	overdue, asJSON, erase, material, dryRun                               bool
}

// entryFlags are enter's: a request received by email, phone or post.
type entryFlags struct {
	typ, details, regulation, scope, lang, channel, received, identity string
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
	if c.flags != nil || c.why {
		fmt.Fprint(w, "\nflags:\n")
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.ownFlags(fs, &options{})
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
	if c.maintenance() {
		tableFlags(fs, &o)
	} else {
		apiFlags(fs, &o)
	}
	c.ownFlags(fs, &o)
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
	table(&o.platformRequests, "PlatformRequestsTable")
	table(&o.rootsTable, "LedgerRootsTable")
	return o, pos, nil
}

// cli is what a maintenance command runs with: its options, the AWS
// configuration, the store and where it prints.
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
	var req operator.Request
	if !c.maintenance() {
		if o.api == "" {
			return fmt.Errorf("%w: %s needs -api URL (or PRIVACYCTL_API): the stack's output OperatorUrl", errUsage, c.name)
		}
		args, err := c.ask(o)
		if err != nil {
			return err
		}
		if c.why {
			args.Reason = o.reason
		}
		req = operator.Request{Action: c.name, Args: args}
		if c.ids == 1 {
			req.ID = pos[0]
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	if !c.maintenance() {
		msg, data, err := call(ctx, cfg, o.api, req)
		if err != nil {
			return err
		}
		if c.show != nil {
			if msg != "" { // what the answer says beside its data (a list missing the Platform's requests)
				fmt.Fprintln(os.Stderr, msg)
			}
			return c.show(out, data, o)
		}
		_, err = fmt.Fprintln(out, msg)
		return err
	}
	db := dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		opt.HTTPClient = sdkhttp.OwnBody(opt.HTTPClient)
		if o.endpoint != "" {
			opt.BaseEndpoint = aws.String(o.endpoint)
		}
	})
	store := dynamo.New(db, dynamo.Tables{Requests: o.requests, Subjects: o.subjects, Ledger: o.ledger, Ops: o.ops, Records: o.records,
		Suppression: o.suppression, PlatformRequests: o.platformRequests})
	return c.run(ctx, &cli{o: o, cfg: cfg, db: db, store: store, out: out}, pos)
}

// call asks the operator route for req, signed (SigV4, execute-api) with
// the caller's AWS credentials, and returns its message and data.
func call(ctx context.Context, cfg aws.Config, api string, req operator.Request) (string, json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, api, bytes.NewReader(body))
	if err != nil {
		return "", nil, fmt.Errorf("%w: -api: %v", errUsage, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("aws credentials: %w", err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, hreq, hex.EncodeToString(sum[:]), "execute-api", region, time.Now()); err != nil {
		return "", nil, fmt.Errorf("sign: %w", err)
	}
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(hreq)
	if err != nil {
		return "", nil, fmt.Errorf("operator: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", nil, fmt.Errorf("operator: %w", err)
	}
	var out struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
		Error   struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &out)
	switch {
	case resp.StatusCode == http.StatusOK:
		return out.Message, out.Data, nil
	case resp.StatusCode == http.StatusForbidden && out.Error.Message == "":
		return "", nil, fmt.Errorf("operator: 403 %s: your AWS identity may not invoke it (its role needs PrivacyTeamPolicy)", out.Message)
	case out.Error.Message != "":
		return "", nil, fmt.Errorf("%s (%d)", out.Error.Message, resp.StatusCode)
	default:
		return "", nil, fmt.Errorf("operator: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
}

func printJSON(out io.Writer, data json.RawMessage, _ options) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(out)
	return err
}

func decode[T any](data json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("the operator's answer: %w", err)
	}
	return v, nil
}

func printList(out io.Writer, data json.RawMessage, o options) error {
	if o.asJSON {
		_, err := fmt.Fprintf(out, "%s\n", data)
		return err
	}
	rows, err := decode[[]operator.Row](data)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTYPE\tSTATUS\tREGULATION\tRECEIVED\tDUE\tFLAGS")
	for _, r := range rows {
		var flags []string
		if r.Overdue {
			flags = append(flags, "OVERDUE")
		}
		if r.Platform {
			// A controller's OpenDSR request: listed for its deadline,
			// the processor worker's to fulfil.
			flags = append(flags, "platform:"+r.Controller)
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

func printAudit(out io.Writer, data json.RawMessage, o options) error {
	entries, err := decode[[]operator.AuditEntry](data)
	if err != nil {
		return err
	}
	if o.format != "table" {
		return operator.WriteAudit(out, o.format, entries)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tACTION\tON\tBY\tWHY")
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Action, e.On, e.By, e.Reason)
	}
	return w.Flush()
}

func printReport(out io.Writer, data json.RawMessage, o options) error {
	if o.asJSON {
		_, err := out.Write(append(data, '\n'))
		return err
	}
	r, err := decode[report.Report](data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Rights requests from %s to %s (as of %s)\n\n", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly),
		r.AsOf.Format(time.RFC3339))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "TYPE\tRECEIVED\tCLOSED\tOVERDUE\tMEDIAN DAYS\tP95 DAYS\t")
	for _, f := range append(r.Types, r.Total) {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t\n", f.Type, f.Received, f.Closed, f.Overdue, f.MedianDays, f.P95Days)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nExtensions (%d)\n", len(r.Extensions))
	for _, e := range r.Extensions {
		fmt.Fprintf(out, "  %s %s: due %s, extended to %s: %s\n", e.ID, e.Type, e.OriginalDueAt.Format(time.DateOnly),
			e.DueAt.Format(time.DateOnly), e.Reason)
	}
	fmt.Fprintln(out, "\nDenials by reason")
	for _, d := range r.Denials {
		fmt.Fprintf(out, "  %d  %s\n", d.N, d.Reason)
	}
	return nil
}

func printRecord(out io.Writer, data json.RawMessage, o options) error {
	if o.asJSON {
		_, err := out.Write(append(data, '\n'))
		return err
	}
	r, err := decode[ropa.Record](data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Record of processing activities of %s (contact %s), policy %s, %s\n", r.Controller, r.Contact, r.PolicyVersion, r.GeneratedAt)
	for _, a := range r.Activities {
		fmt.Fprintf(out, "\n%s\n  role: %s; purpose: %s; legal basis: %s\n  people: %s\n  data: %s\n  sources: %s\n  recipients: %s\n"+
			"  transfers: %s\n  storage: %s\n", a.Name, a.Role, a.Purpose, a.LegalBasis, strings.Join(a.People, "; "),
			strings.Join(a.Data, "; "), strings.Join(a.Sources, "; "), strings.Join(a.Recipients, "; "), a.Transfers, a.Storage)
		for _, c := range a.Retention {
			fmt.Fprintf(out, "  kept: %s, %s (%s)\n", c.Record, c.Period, c.Why)
		}
	}
	fmt.Fprintf(out, "\nsecurity: %s\n", strings.Join(r.Security, "; "))
	return nil
}

func printProcessors(out io.Writer, data json.RawMessage, _ options) error {
	ps, err := decode[[]operator.ProcessorView](data)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tURL OR CONTACT\tIDENTITY\tTYPES")
	for _, p := range ps {
		where := p.URL
		switch {
		case where == "":
			where = "mailto:" + p.Contact
		case p.Contact != "":
			where += " mailto:" + p.Contact
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, where, p.IdentityFormat, strings.Join(p.Types, ","))
	}
	return w.Flush()
}

func printHolds(out io.Writer, data json.RawMessage, _ options) error {
	hs, err := decode[[]operator.HoldView](data)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SUBJECT\tSINCE\tUNTIL\tIN FORCE\tBY\tREASON")
	for _, h := range hs {
		until := "-"
		if !h.Until.IsZero() {
			until = h.Until.Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\n", string(h.Subject)[:min(12, len(h.Subject))], h.PlacedAt.Format(time.DateOnly), until,
			h.InForce, h.PlacedBy, h.Reason)
	}
	return w.Flush()
}

func printSuppressions(out io.Writer, data json.RawMessage, _ options) error {
	recs, err := decode[[]operator.SuppressionView](data)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintln(out, "no suppression: marketing may go to this address (to the topics it confirmed)")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REASON\tSINCE\tLIFTED\tIN FORCE")
	for _, r := range recs {
		lifted := "-"
		if !r.LiftedAt.IsZero() {
			lifted = r.LiftedAt.Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", r.Reason, r.Since.Format(time.DateOnly), lifted, r.InForce)
	}
	return w.Flush()
}

func printPolicies(out io.Writer, data json.RawMessage, o options) error {
	if o.asJSON {
		_, err := fmt.Fprintf(out, "%s\n", data)
		return err
	}
	p, err := decode[operator.Policies](data)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tEFFECTIVE\tMATERIAL\tNEW PURPOSES\tBASES\tNOTICES\tSUBSCRIBERS\tREQUESTERS\tINQUIRERS\tPUBLISHED BY")
	for _, v := range p.Versions {
		mark := ""
		if v.Version == p.InForce {
			mark = " (in force)"
		}
		var bases []string
		for _, p := range privacy.StatedPurposes() {
			bases = append(bases, p+"="+v.Basis(p))
		}
		fmt.Fprintf(w, "%s%s\t%s\t%v\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", v.Version, mark, v.LastUpdated(), v.Material,
			strings.Join(v.NewPurposes, ","), strings.Join(bases, ","), v.Notices.State, v.Notices.Subscribers, v.Notices.Requesters, v.Notices.Inquirers,
			v.PublishedBy)
	}
	if len(p.Versions) == 0 {
		fmt.Fprintf(w, "%s (in force, the template's; none published)\t\t\t\t\t\t\t\t\t\n", p.InForce)
	}
	return w.Flush()
}

func printCampaign(out io.Writer, data json.RawMessage, o options) error {
	if o.asJSON {
		_, err := fmt.Fprintf(out, "%s\n", data)
		return err
	}
	st, err := decode[campaign.Status](data)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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

// upgradeRecords rewrites the Platform's records and requests of before
// issue #35 (dynamo.Store.UpgradeLegacyRecords).
func upgradeRecords(ctx context.Context, c *cli, _ []string) error {
	n, err := c.store.UpgradeLegacyRecords(ctx, c.o.dryRun)
	b, _ := json.Marshal(n)
	fmt.Fprintf(c.out, "%s\n", b)
	return err
}

func reapplyErasures(ctx context.Context, c *cli, _ []string) error {
	var since time.Time
	if c.o.since != "" {
		var err error
		if since, err = time.Parse("2006-01-02", c.o.since); err != nil {
			return fmt.Errorf("%w: -since must be YYYY-MM-DD", errUsage)
		}
	}
	warn := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	inForce := policy.NewCache(c.store, c.o.policy, 0, warn).InForce
	rep, err := rights.ReapplyErasures(ctx, c.store, since, time.Now().UTC(), inForce(ctx).Version)
	b, _ := json.Marshal(rep)
	fmt.Fprintf(c.out, "%s\n", b)
	return err
}

// ledgerVerify recomputes the ledger's hashes and seals and names what
// does not match (shared/ledger.Verify).
func ledgerVerify(ctx context.Context, c *cli, _ []string) error {
	if c.o.from != "" {
		if _, err := time.Parse(time.DateOnly, c.o.from); err != nil {
			return fmt.Errorf("%w: -from must be YYYY-MM-DD", errUsage)
		}
	}
	store := dynamo.New(c.db, dynamo.Tables{Ledger: c.o.ledger, Ops: c.o.ops, LedgerRoots: c.o.rootsTable})
	keys, err := verifyKeys(ctx, store, c.o.jwks)
	if err != nil {
		return err
	}
	entries, err := store.ScanLedger(ctx)
	if err != nil {
		return err
	}
	sealed, err := store.SealedDays(ctx)
	if err != nil {
		return err
	}
	rep := ledger.Verify(entries, sealed, keys, c.o.from, time.Now())
	if c.o.asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s\n", b)
	} else {
		fmt.Fprintf(c.out, "%d entries on %d days, %d days sealed\n", rep.Entries, rep.Days, rep.Sealed)
		for _, f := range rep.Findings {
			fmt.Fprintln(c.out, f)
		}
	}
	if len(rep.Findings) > 0 {
		return fmt.Errorf("ledger verify: %d findings", len(rep.Findings))
	}
	return nil
}

// verifyKeys are the keys the roots are checked against: the key set at
// url (the public route), or the keys published in the ops table.
func verifyKeys(ctx context.Context, store *dynamo.Store, url string) ([]receipt.JWK, error) {
	if url == "" {
		published, err := store.PublishedKeys(ctx)
		if err != nil {
			return nil, err
		}
		set, err := receipt.KeySet(published)
		return set.Keys, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: -jwks: %v", errUsage, err)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer resp.Body.Close()
	var set receipt.JWKS
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("keys at %s: %s %v", url, resp.Status, err)
	}
	return set.Keys, nil
}

// replayFailures feeds the failure queue's records back to their functions.
func replayFailures(ctx context.Context, c *cli, _ []string) error {
	cfg, o, out := c.cfg, c.o, c.out
	if o.queueURL == "" {
		return fmt.Errorf("%w: replay needs -queue-url (the stack's output FailureQueueUrl)", errUsage)
	}
	r := &replay.Replayer{QueueURL: o.queueURL, Log: out, Marks: replay.OnlyProcessors(o.ops),
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
		Items:   c.db,
		Invoker: replay.Lambda{Client: lambda.NewFromConfig(cfg)}}
	rep, err := r.Run(ctx, o.max)
	fmt.Fprintf(out, "%d replayed, %d failed again (left in the queue)\n", rep.Replayed, rep.Failed)
	if err == nil && rep.Failed > 0 {
		err = fmt.Errorf("%d messages failed again", rep.Failed)
	}
	return err
}

func retentionBackfill(ctx context.Context, c *cli, _ []string) error {
	counts, err := dynamo.BackfillRetention(ctx, c.db, map[privacy.Table]string{privacy.TableSubjects: c.o.subjects,
		privacy.TableLedger: c.o.ledger, privacy.TableRequests: c.o.requests, privacy.TableOps: c.o.ops,
		privacy.TablePlatformRequests: c.o.platformRequests, privacy.TableSuppression: c.o.suppression})
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
