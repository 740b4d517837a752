package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
)

// Config says where the local services are and how to run the stack.
type Config struct {
	Template         string // path of template.yaml
	Root             string // module root, where functions are built
	BuildDir         string // where bootstraps go
	RIE              string // path of aws-lambda-rie
	DynamoDBEndpoint string // DynamoDB Local, e.g. http://127.0.0.1:8000
	SESEndpoint      string // the SES emulator, e.g. http://127.0.0.1:8005
	// SQSEndpoint is the SQS server (e.g. http://127.0.0.1:8006) where the
	// template's queues are created and on-failure records go; without it
	// queues resolve to stand-in ARNs and such records are only logged.
	SQSEndpoint string
	// AsyncRetryDelay is the wait before each retry of a failed
	// asynchronous invocation (AWS waits about 1 and then 2 minutes;
	// default 10 s here).
	AsyncRetryDelay time.Duration
	// StreamRetryLimit, when above zero, caps every stream mapping's
	// MaximumRetryAttempts (tests that give a batch up without waiting
	// for the template's 1,000 retries).
	StreamRetryLimit int
	TablePrefix      string            // tables are named prefix+LogicalId
	Addr             string            // the API's listen address, e.g. 127.0.0.1:3000
	Params           map[string]string // template parameter overrides
	// Env holds values for declared variables (LOG_LEVEL, ...), and the
	// development values of the template's secrets, which the AWS front
	// serves (LOCAL_SECRET, RECEIPT_KEY, OPENDSR_SIGNING_KEY: secretVariables).
	Env         map[string]string
	Pool        int // emulator processes per HTTP function
	Region      string
	Log         io.Writer // function and gateway log lines, one per line
	NoSchedules bool      // do not fire schedules (tests invoke on demand)
	// QueueAttributes, by queue logical id, replace attributes the
	// template gives a queue (a test shortens a visibility timeout).
	QueueAttributes map[string]map[string]string
	// DevKeyDir, when set, holds the OpenDSR signing key of development
	// (made there on first use, see DevSigningKey), used when Env gives no
	// OPENDSR_SIGNING_KEY.
	DevKeyDir string
}

// tables reads the template and creates its tables: the first step of
// Start, and all of CreateTablesOnly.
// Defaults fill parameters the template declares and cfg does not set.
func tables(ctx context.Context, cfg Config, defaults map[string]string) (*Template, *Resolver, *dynamodb.Client, error) {
	t, err := ReadTemplate(cfg.Template)
	if err != nil {
		return nil, nil, nil, err
	}
	params := map[string]string{}
	for k, v := range defaults {
		if _, declared := t.Parameters[k]; declared {
			params[k] = v
		}
	}
	for k, v := range cfg.Params {
		params[k] = v
	}
	r, err := NewResolver(t, params, cfg.Region)
	if err != nil {
		return nil, nil, nil, err
	}
	db := dynamodb.NewFromConfig(staticAWS(cfg.Region), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint) })
	if err := CreateTables(ctx, db, t, r, cfg.TablePrefix); err != nil {
		return nil, nil, nil, err
	}
	return t, r, db, nil
}

// DevParams are the values the local stack gives the parameters a deploy
// must set (the template has no usable defaults for them): links to the
// local API at baseURL, its own origin, and addresses the SES emulator
// catches; the unsubscribe-by-mail domain (off by default in a deploy)
// is the emulator's, as infra/env.json and the sample event name it; the
// Platform region is us (a local stack of region eu sets PlatformRegion).
// A caller's Params override them.
func DevParams(baseURL string) map[string]string {
	return map[string]string{"PublicBaseURL": baseURL, "SiteOrigins": baseURL,
		"SenderAddress": "privacy@example.com", "TeamInbox": "team@example.com", "UnsubscribeMailDomain": "example.com",
		"PlatformRegion": "us"}
}

// CreateTablesOnly creates the template's tables and returns their names.
func CreateTablesOnly(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	t, r, _, err := tables(ctx, cfg, DevParams("http://localhost:3000"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		names = append(names, r.Refs[id])
	}
	return names, nil
}

// Stack is a running local stack.
type Stack struct {
	URL       string
	Functions map[string]*Function
	Tables    map[string]string // logical id -> local table name
	Queues    map[string]string // logical id -> local queue URL (with an SQS server)
	server    *http.Server
	queues    *queues
	region    string
	// asyncDelay is Config.AsyncRetryDelay.
	asyncDelay time.Duration
	log        io.Writer
	runCtx     context.Context
	ln         net.Listener
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	db         *dynamodb.Client
	// devCert is the development signing certificate's file, served at
	// DevCertificatePath ("" without one).
	devCert string
	gate    *gate
	// activity is what is in flight (WaitIdle), readQueues the URLs of
	// the queues functions read.
	activity   *activity
	readQueues []string
}

// DevCertificatePath is where the gateway serves the OpenDSR signing
// certificate of development, which discovery's processor_certificate
// names under make dev (unless the caller set OpenDSRCertificateURL), so a
// controller's client fetches it from discovery as it will in production
// (trusting it explicitly: it is self-signed, and production's is not).
const DevCertificatePath = "/_local/opendsr/certificate.pem"

func staticAWS(region string) aws.Config {
	return aws.Config{Region: region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// Start brings the stack up: tables, builds, emulator pools, the API, the
// stream pollers and the schedules. Close stops all of it.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Pool <= 0 {
		cfg.Pool = 2
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	log := &lineWriter{w: cfg.Log}
	// Listen first: the API's own URL is the PublicBaseURL of the links in
	// emails unless the caller set one.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	url := "http://" + ln.Addr().String()
	t, r, db, err := tables(ctx, cfg, DevParams(url))
	if err != nil {
		ln.Close()
		return nil, err
	}
	devCert := ""
	if cfg.DevKeyDir != "" && cfg.Env["OPENDSR_SIGNING_KEY"] == "" {
		key, certPath, err := DevSigningKey(cfg.DevKeyDir, asString(r.Params["ProcessorDomain"]))
		if err != nil {
			ln.Close()
			return nil, err
		}
		env := map[string]string{}
		for k, v := range cfg.Env { // the caller's map stays as it was
			env[k] = v
		}
		env["OPENDSR_SIGNING_KEY"] = string(key)
		cfg.Env = env
		devCert = certPath
		if _, set := cfg.Params["OpenDSRCertificateURL"]; !set {
			r.Params["OpenDSRCertificateURL"] = url + DevCertificatePath
		}
		fmt.Fprintf(log, "gateway\tOpenDSR signing key of development in %s (certificate %s)\n", cfg.DevKeyDir, certPath)
	}
	var qs *queues
	if cfg.SQSEndpoint != "" {
		if qs, err = createQueues(ctx, cfg.SQSEndpoint, t, r, cfg.TablePrefix, cfg.Region, cfg.QueueAttributes); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if cfg.AsyncRetryDelay <= 0 {
		cfg.AsyncRetryDelay = 10 * time.Second
	}
	secrets := localSecrets(t, r, cfg)
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		r.Attrs[id+".Arn"] = functionARN(cfg.Region, id)
	}
	fns, err := Functions(t, r)
	if err == nil {
		err = Build(ctx, cfg.Root, cfg.BuildDir, fns)
	}
	var g *gate
	if err == nil {
		g, err = startIAM(ctx, cfg, t, r, fns, log)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{Functions: map[string]*Function{}, Tables: map[string]string{}, Queues: map[string]string{}, cancel: cancel, devCert: devCert, gate: g,
		db: db, ln: ln, queues: qs, region: cfg.Region, asyncDelay: cfg.AsyncRetryDelay, log: log, runCtx: runCtx,
		activity: newActivity()}
	for id, name := range r.Refs {
		if t.Resources[id].Type == "AWS::SQS::Queue" {
			s.Queues[id] = name
		}
		if t.Resources[id].Type == "AWS::DynamoDB::Table" {
			s.Tables[id] = name
		}
	}
	// What the Lambda service gives a runtime: its region, and its role's
	// temporary credentials. AWS_ENDPOINT_URL, the SDK's own, points each
	// of its AWS clients at the gateway's AWS front (development only:
	// lambdaenv refuses it otherwise).
	base := map[string]string{"AWS_REGION": cfg.Region, "AWS_DEFAULT_REGION": cfg.Region, "AWS_ENDPOINT_URL": url}
	// Development settings, applied only to functions that declare them:
	// development itself, and OpenDSR callbacks to the developer's own
	// loopback receivers. The secrets' development values are served by
	// the front (localSecrets), not put in the environment, unless the
	// configuration empties the secret's ARN variable as sam local does
	// (SamLocalEnv): then the function reads the value in the clear.
	overrides := map[string]string{"DEVELOPMENT": "true", "ALLOW_INSECURE_CALLBACKS": "true"}
	for k, v := range cfg.Env {
		if s, secret := secretVariables[k]; secret {
			if arn, set := cfg.Env[s.arnVar]; !set || arn != "" {
				continue // served by the front
			}
		}
		overrides[k] = v
	}
	for _, f := range fns {
		s.Functions[f.ID] = f
		f.activity = s.activity
		env := maps.Clone(base)
		maps.Copy(env, g.credentials(f.ID))
		f.start(cfg.RIE, poolSize(f, cfg.Pool), env, overrides, log)
	}
	tables, err := tablesOf(t, r)
	if err != nil {
		s.Close()
		return nil, err
	}
	byARN := map[string]*Function{}
	for _, f := range fns {
		byARN[functionARN(cfg.Region, f.ID)] = f
	}
	awsFront := &front{gate: g, tables: tables, queues: qs, secrets: secrets, fns: byARN, region: cfg.Region, stack: s, log: log,
		emulators: map[string]string{"dynamodb": cfg.DynamoDBEndpoint, "ses": cfg.SESEndpoint, "sqs": cfg.SQSEndpoint}}
	api, err := newAPI(t, r, fns, g, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	api.admin, api.aws = s.adminHandler(), awsFront
	streams := dynamodbstreams.NewFromConfig(staticAWS(cfg.Region), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint) })
	for _, f := range fns {
		for name, e := range f.Events {
			switch e.Type {
			case "DynamoDB":
				src, err := newStreamSource(f, e, streams, cfg.Region, log)
				if err != nil {
					s.Close()
					return nil, err
				}
				src.queues, src.act = qs, s.activity
				src.undescribed()
				if cfg.StreamRetryLimit > 0 && (src.maxRetries < 0 || src.maxRetries > cfg.StreamRetryLimit) {
					src.maxRetries = cfg.StreamRetryLimit
				}
				s.goRun(func() { src.run(runCtx) })
			case "SQS":
				src, err := newSQSSource(f, e, qs, cfg.Region, log)
				if err != nil {
					s.Close()
					return nil, err
				}
				src.act = s.activity
				s.readQueues = append(s.readQueues, src.url)
				s.goRun(func() { src.run(runCtx) })
			case "Schedule", "ScheduleV2":
				if cfg.NoSchedules {
					continue
				}
				sch, err := parseSchedule(e)
				if err != nil {
					fmt.Fprintf(log, "gateway\t%s %s: %v; not fired locally (use POST /_local/invoke/%s)\n", f.ID, name, err, f.ID)
					continue
				}
				fn, ev := f, e
				s.goRun(func() { s.schedule(runCtx, fn, ev, sch, cfg.Region, log) })
			}
		}
	}
	s.URL = url
	s.server = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	s.goRun(func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(log, "gateway\tserve: %v\n", err)
		}
	})
	return s, nil
}

func (s *Stack) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Close stops the API, the pollers and every emulator process.
func (s *Stack) Close() {
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.server.Shutdown(ctx)
		cancel()
	} else if s.ln != nil {
		s.ln.Close()
	}
	s.cancel()
	s.wg.Wait()
	for _, f := range s.Functions {
		f.stop()
	}
}

// DB returns the DynamoDB Local client the stack uses.
func (s *Stack) DB() *dynamodb.Client { return s.db }

// AWSAs is the AWS configuration function fn's code has here: its role's
// credentials, the stack's region and the gateway's AWS front as the
// endpoint, so that a test asks what the role reaches as the function
// would (false: no such function).
func (s *Stack) AWSAs(fn string) (aws.Config, bool) {
	p, ok := s.gate.byFunction[fn]
	if !ok {
		return aws.Config{}, false
	}
	return aws.Config{Region: s.region, BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider(p.keyID, p.key.secret, p.key.token)}, true
}

// scheduleEvent is the payload a schedule delivers: the Input when one is
// set, otherwise the envelope (ScheduleV2's detail is the string "{}").
func scheduleEvent(e Event, region string) []byte {
	if in := asString(e.Properties["Input"]); in != "" {
		return []byte(in)
	}
	ev := map[string]any{"version": "0", "id": uuid.NewString(), "detail-type": "Scheduled Event",
		"account": "000000000000", "time": time.Now().UTC().Format(time.RFC3339), "region": region,
		"resources": []string{}}
	if e.Type == "ScheduleV2" {
		ev["source"], ev["detail"] = "aws.scheduler", "{}"
	} else {
		ev["source"], ev["detail"] = "aws.events", map[string]any{}
	}
	b, _ := json.Marshal(ev)
	return b
}

func (s *Stack) schedule(ctx context.Context, f *Function, e Event, sch schedule, region string, log io.Writer) {
	for at := sch.next(time.Now()); !at.IsZero(); at = sch.next(at) {
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Asynchronously, as Scheduler invokes: a run that outlasts the
		// period overlaps the next one (the pool runs two at once), and a
		// failed one is retried and recorded as Lambda does.
		s.async(ctx, f, scheduleEvent(e, region))
	}
}

// poolSize is how many emulator processes serve f: pool for an HTTP
// function, and two at least for every function, since in AWS a function
// on two streams (the mailer), or a schedule's run that outlasts its
// period, runs concurrently, and a race hidden here would be hit there.
func poolSize(f *Function, pool int) int {
	n := 2
	for _, e := range f.Events {
		switch e.Type {
		case "HttpApi", "Api":
			return max(pool, 2)
		case "SQS":
			// As many as the mapping may invoke at once.
			if c, err := strconv.Atoi(asString(asMap(e.Properties["ScalingConfig"])["MaximumConcurrency"])); err == nil {
				n = max(n, c)
			}
		}
	}
	return n
}

// async starts an asynchronous invocation (invokeAsync), in flight for
// WaitIdle from before this returns until its last retry ends.
func (s *Stack) async(ctx context.Context, f *Function, payload []byte) {
	s.activity.begin()
	s.goRun(func() {
		defer s.activity.end()
		s.invokeAsync(ctx, f, payload)
	})
}

// invokeAsync runs an asynchronous invocation as Lambda does: on a
// function error it is retried AsyncRetries times, asyncDelay apart, and
// then recorded on the function's on-failure destination with its payload.
func (s *Stack) invokeAsync(ctx context.Context, f *Function, payload []byte) {
	var err error
	attempts := 0
	for attempts = 1; attempts <= 1+f.AsyncRetries; attempts++ {
		if attempts > 1 {
			sleep(ctx, s.asyncDelay)
		}
		if ctx.Err() != nil {
			return
		}
		if _, err = f.Invoke(ctx, payload); err == nil {
			return
		}
		fmt.Fprintf(s.log, "gateway\tasync %s: attempt %d failed: %v\n", f.ID, attempts, err)
	}
	attempts--
	dest := f.AsyncOnFailure
	if dest == "" {
		fmt.Fprintf(s.log, "gateway\tasync %s: given up after %d attempts; no on-failure destination\n", f.ID, attempts)
		return
	}
	if serr := s.queues.send(ctx, dest, asyncFailure(s.region, f.ID, payload, attempts, err)); serr != nil {
		fmt.Fprintf(s.log, "gateway\tasync %s: given up after %d attempts; %v\n", f.ID, attempts, serr)
		return
	}
	fmt.Fprintf(s.log, "gateway\tasync %s: given up after %d attempts; recorded on %s\n", f.ID, attempts, dest)
}

// adminHandler serves POST /_local/invoke/{LogicalId}: the body is the event
// (a schedule's envelope when empty), the answer the function's response.
// With X-Amz-Invocation-Type: Event the invocation is asynchronous, as
// Scheduler's and the CLI's --invocation-type Event are: 202 at once, then
// retries and the on-failure destination as Lambda applies them.
// A browser's request from a page of another origin is refused (403).
func (s *Stack) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == DevCertificatePath && r.Method == http.MethodGet && s.devCert != "" {
			// A public certificate, for any client (as production's URL).
			w.Header().Set("Content-Type", "application/x-pem-file")
			http.ServeFile(w, r, s.devCert)
			return
		}
		if fromAnotherOrigin(r) {
			apiError(w, http.StatusForbidden, "Forbidden: /_local/ is not for other origins' pages")
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/_local/invoke/")
		f := s.Functions[id]
		if !ok || f == nil || r.Method != http.MethodPost {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			apiError(w, http.StatusBadRequest, "Bad Request")
			return
		}
		if len(body) == 0 {
			body = scheduleEvent(Event{Type: "ScheduleV2"}, "us-east-1")
		}
		if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
			s.async(s.runCtx, f, body)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		out, err := f.Invoke(r.Context(), body)
		if err != nil {
			apiError(w, http.StatusBadGateway, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// fromAnotherOrigin reports a request a browser made for a page of another
// origin: its Sec-Fetch-Site is neither same-origin nor none (typed by the
// user), or its Origin is not the gateway's own (an older browser sends
// Origin on every cross-origin POST; "null" is a sandboxed page), or it
// was addressed to a name other than localhost (a stranger's name rebound
// to this machine: DNS rebinding makes such a page "same-origin"). curl,
// privacyctl and the tests' Go clients send neither header, and pass.
func fromAnotherOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return true
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
		return true
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	_, err = netip.ParseAddr(strings.Trim(host, "[]"))
	return host != "localhost" && err != nil // a name, not an address
}

// lineWriter serialises writes of whole lines from many goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startIAM loads the identity policies of the stack's principals from the
// SAM-transformed template, starts (or joins) the process's evaluator, and
// refuses a stack AWS would refuse at deploy (checkServiceAccess).
func startIAM(ctx context.Context, cfg Config, t *Template, r *Resolver, fns []*Function, log io.Writer) (*gate, error) {
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, err
	}
	resources, err := samTransform(ctx, root, cfg.Template, cfg.BuildDir)
	if err != nil {
		return nil, err
	}
	ids, err := loadIdentities(resources, r, fns)
	if err != nil {
		return nil, err
	}
	g, err := newGate(iamsim.Shared(filepath.Join(root, ".tools", "node", "node_modules")), ids, fns, log)
	if err != nil {
		return nil, err
	}
	return g, checkServiceAccess(ctx, g, t, r, fns)
}

// secretVariables name the development values of the template's secrets
// (what sam local's env.json gives the functions in the clear), and the
// value each has when the configuration gives none.
var secretVariables = map[string]struct{ secret, fallback, arnVar string }{
	"LOCAL_SECRET":        {"AppSecret", lambdaenv.LocalSecret, "SECRET_ARN"},
	"RECEIPT_KEY":         {"ReceiptSigningKey", lambdaenv.LocalReceiptKey, "RECEIPT_KEY_SECRET_ARN"},
	"OPENDSR_SIGNING_KEY": {"OpenDSRSigningKey", "", "OPENDSR_SIGNING_KEY_SECRET_ARN"},
	"CONSOLE_SESSION_KEY": {"ConsoleSessionKey", "", "CONSOLE_SESSION_KEY_SECRET_ARN"},
}

// localSecrets gives each AWS::SecretsManager::Secret of the template an
// ARN as AWS makes them (name, a dash and six random characters), which
// Ref resolves to, and its local value: the development value its
// variable gives (secretVariables), else its SecretString, else a random
// one (GenerateSecretString).
func localSecrets(t *Template, r *Resolver, cfg Config) map[string]secretValue {
	values := map[string]string{}
	for v, s := range secretVariables {
		if x := cfg.Env[v]; x != "" {
			values[s.secret] = x
		} else if s.fallback != "" {
			values[s.secret] = s.fallback
		}
	}
	out := map[string]secretValue{}
	for _, id := range t.ResourcesOfType("AWS::SecretsManager::Secret") {
		if ok, err := r.Exists(id); err != nil || !ok {
			continue
		}
		name := cfg.TablePrefix + id
		arn := fmt.Sprintf("arn:aws:secretsmanager:%s:000000000000:secret:%s-%s", cfg.Region, name, random(6))
		v, ok := values[id]
		if !ok {
			v = asString(t.Resources[id].Properties["SecretString"])
		}
		if !ok && v == "" {
			v = random(64)
		}
		r.Refs[id] = arn
		out[arn] = secretValue{arn: arn, name: name, value: v}
	}
	return out
}
