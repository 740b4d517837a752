// Command gateway runs the whole stack of template.yaml locally, without
// Docker: see package infra/local. `make dev` starts it with DynamoDB Local
// and the SES emulator; Ctrl-C stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
)

// kv collects KEY=VALUE flags; KEY=@file takes the value from a file (a
// PEM key, say, which a shell would split).
type kv map[string]string

func (m kv) String() string { return fmt.Sprint(map[string]string(m)) }
func (m kv) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE or KEY=@file, got %q", s)
	}
	if file, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		v = string(b)
	}
	m[k] = v
	return nil
}

func main() {
	cfg := local.Config{Params: map[string]string{}, Env: map[string]string{}}
	var logFile string
	var tablesOnly bool
	flag.StringVar(&cfg.Template, "template", "template.yaml", "SAM template")
	flag.StringVar(&cfg.Root, "root", ".", "module root")
	flag.StringVar(&cfg.BuildDir, "build-dir", ".local/build", "where bootstraps are built")
	flag.StringVar(&cfg.RIE, "rie", ".tools/bin/aws-lambda-rie", "aws-lambda-rie binary")
	flag.StringVar(&cfg.DynamoDBEndpoint, "dynamodb", "http://127.0.0.1:8000", "DynamoDB Local endpoint")
	flag.StringVar(&cfg.SESEndpoint, "ses", "http://127.0.0.1:8005", "SES emulator endpoint")
	flag.StringVar(&cfg.SQSEndpoint, "sqs", "", "SQS server endpoint (make dev: http://127.0.0.1:8006): the template's queues and on-failure records; empty for none")
	flag.DurationVar(&cfg.AsyncRetryDelay, "async-retry-delay", 10*time.Second, "wait before each retry of a failed asynchronous invocation (AWS: about 1, then 2 minutes)")
	flag.StringVar(&cfg.TablePrefix, "table-prefix", "dev-", "prefix of local table names")
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:3000", "API listen address")
	flag.IntVar(&cfg.Pool, "pool", 2, "emulator processes per HTTP function")
	flag.StringVar(&logFile, "log-file", ".local/logs/functions.log", "where function log lines are also written")
	flag.Var(kv(cfg.Params), "param", "template parameter override KEY=VALUE (repeatable)")
	flag.Var(kv(cfg.Env), "env", "value for a declared environment variable KEY=VALUE or KEY=@file (repeatable)")
	flag.StringVar(&cfg.DevKeyDir, "dev-key-dir", ".local/opendsr", "where the OpenDSR signing key of development is kept (made on first start) unless -env OPENDSR_SIGNING_KEY=@file gives one; empty for none")
	flag.BoolVar(&tablesOnly, "create-tables", false, "only create the template's tables, and its queues with -sqs (for sam local, its services in Docker), then exit")
	flag.Parse()
	if tablesOnly {
		names, err := local.CreateTablesOnly(context.Background(), cfg)
		if err != nil {
			fail(err)
		}
		for _, n := range names {
			fmt.Println("table", n)
		}
		if cfg.SQSEndpoint != "" {
			urls, err := local.CreateQueuesOnly(context.Background(), cfg)
			if err != nil {
				fail(err)
			}
			for _, u := range urls {
				fmt.Println("queue", u)
			}
		}
		return
	}
	if _, ok := cfg.Env["LOCAL_SECRET"]; !ok {
		cfg.Env["LOCAL_SECRET"] = lambdaenv.LocalSecret
	}

	var out io.Writer = os.Stdout
	if logFile != "" {
		if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
			fail(err)
		}
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		out = io.MultiWriter(os.Stdout, f)
	}
	cfg.Log = out

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := local.Start(ctx, cfg)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(out, "gateway\tready: API on %s (functions: %d, tables: %d)\n", s.URL, len(s.Functions), len(s.Tables))
	for _, id := range local.DevIdentities() {
		use := "privacyctl -api " + s.URL + "/v1/operator"
		if slices.Contains(id.Policies, "PrivacyMaintenancePolicy") {
			use = "AWS_ENDPOINT_URL=" + s.URL + " privacyctl reapply-erasures|retention backfill|replay"
		}
		fmt.Fprintf(out, "gateway\tIAM user %s (%s): AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s (%s)\n",
			id.ARN, strings.Join(id.Policies, ", "), id.AccessKeyID, id.SecretAccessKey, use)
	}
	fmt.Fprintf(out, "gateway\tIAM: every AWS call a function makes is checked against its role (the AWS front, %s); refusals are logged here\n", s.URL)
	<-ctx.Done()
	fmt.Fprintln(out, "gateway\tstopping")
	s.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gateway:", err)
	os.Exit(1)
}
