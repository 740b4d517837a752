package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// cpuBench is the CPU the functions spend per request: user and system
// time of the function processes (the bootstraps the runtime emulator
// runs; not the emulator, the gateway, DynamoDB Local or the SES
// emulator), from before the first request until the last email the
// requests make is sent, divided by the requests. Each figure includes
// the mailer's work for the email the request makes (the confirmation of
// a signup, the acknowledgment of a contact, the verification of a rights
// request).
type cpuBench struct {
	Requests int `json:"requests"`
	// PerRequest is milliseconds a request, by route (signup, contact,
	// rights_request); ByFunction the same split by function
	// ("signup.FormsFunction").
	PerRequest map[string]float64 `json:"per_request_ms"`
	ByFunction map[string]float64 `json:"by_function_ms"`
	// FloorMSPerSignup is the floor: the CPU a process spends making, with
	// the SDK and nothing else, the DynamoDB calls a signup cannot avoid
	// (the two abuse counters, the restriction check, the subscription
	// with its ledger entry: benchSubmissions' floor), measured in a child
	// process of its own in the same run; FormsVsFloor is the forms
	// function's CPU per signup over it.
	FloorMSPerSignup float64 `json:"floor_ms_per_signup"`
	FormsVsFloor     float64 `json:"signup_forms_vs_floor"`
	// InvocationMS is the forms function's CPU for a request that makes
	// no call and sends no email (a signup whose honeypot field is
	// filled: the gateway's event read, parsed and answered 202, one log
	// line): what every invocation costs before its own work, the
	// runtime's two calls to the Lambda Runtime API included.
	InvocationMS float64 `json:"invocation_ms"`
}

// processCPU is the CPU time, user and system, this process has spent.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runCPUFloor is the floor's child: n signups' unavoidable DynamoDB calls
// (signupFloor), 4 at a time after a warm-up of 8, and on stdout the CPU
// they took in milliseconds a signup.
func runCPUFloor(ctx context.Context, db *dynamodb.Client, tables map[string]string, n int) error {
	floor := signupFloor(ctx, dynamo.New(db, dynamo.Tables{Subjects: tables["SubjectsTable"], Ledger: tables["LedgerTable"], Ops: tables["OpsTable"]}),
		fmt.Sprintf("cpufloor%d", time.Now().UnixNano()%1e9))
	if err := sendAll(8, floor); err != nil {
		return err
	}
	before := processCPU()
	if err := sendAll(n, func(i int) error { return floor(i + 8) }); err != nil {
		return err
	}
	fmt.Printf("%.4f\n", float64((processCPU()-before).Microseconds())/1000/float64(n))
	return nil
}

// cpuFloor runs runCPUFloor in a child process: its CPU is then the SDK
// calls' alone, not the gateway's or the stream pollers' of this one.
func cpuFloor(tables map[string]string, n int) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(tables)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, "-cpufloor", strconv.Itoa(n), "-tables", string(b))
	// On one thread, as the functions run (the template's GOMAXPROCS).
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("cpu floor: %w", err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

// cpuTime is how long process pid has run on a CPU, user and system
// together: utime + stime of /proc/<pid>/stat, every thread's, those ended
// too (proc(5); in clock ticks, 100 a second: USER_HZ). Not
// /proc/<pid>/schedstat: it counts the main thread alone, and a Go
// program runs on several (for 60 signups in one process here it read
// 148 ms where stat read 560). A process gone reads 0.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

// functionsCPU is the CPU time of each runtime process of the functions,
// by function and process.
func functionsCPU(s *local.Stack, ids []string) map[string]map[int]time.Duration {
	out := map[string]map[int]time.Duration{}
	for _, id := range ids {
		out[id] = map[int]time.Duration{}
		if fn := s.Functions[id]; fn != nil {
			for _, pid := range fn.RuntimePIDs() {
				out[id][pid] = cpuTime(pid)
			}
		}
	}
	return out
}

// benchCPU sends n requests of each route (4 at a time, each from its own
// loopback address), waits for their emails, and divides the function
// processes' CPU time by n.
func benchCPU(ctx context.Context, s *local.Stack, sesURL string, n int) (cpuBench, error) {
	cb := cpuBench{Requests: n, PerRequest: map[string]float64{}, ByFunction: map[string]float64{}}
	tag := fmt.Sprintf("cpu%d", time.Now().UnixNano()%1e9)
	routes := []struct {
		name, path, fn string
		body           func(email string) string
	}{
		{"signup", "/v1/subscriptions", "FormsFunction", func(e string) string { return fmt.Sprintf(`{"email":%q,"consent":true}`, e) }},
		{"contact", "/v1/contact", "FormsFunction", func(e string) string {
			return fmt.Sprintf(`{"name":"Bench","email":%q,"message":"Benchmark message"}`, e)
		}},
		{"rights_request", "/v1/rights-requests", "RightsFunction", func(e string) string {
			return fmt.Sprintf(`{"email":%q,"type":"access"}`, e)
		}},
	}
	if n > 490 {
		return cb, fmt.Errorf("at most 490 requests a route (one loopback address each)")
	}
	for k, r := range routes {
		// Warm: the processes of the pool have served, so no cold start
		// is counted.
		ids := []string{r.fn, "MailerFunction"}
		// Each request from its own loopback address, so the per-IP limits
		// stay out of it.
		send := func(i int, email string) error {
			ip := net.IPv4(127, 7, byte(2*k+i/250), byte(i%250+1))
			c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}}
			resp, err := c.Post(s.URL+r.path, "application/json", bytes.NewBufferString(r.body(email)))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("%s: status %d", r.path, resp.StatusCode)
			}
			return nil
		}
		warm := fmt.Sprintf("%s-%s-warm", tag, r.name)
		if err := sendAll(8, func(i int) error { return send(i+1, fmt.Sprintf("%s-%d@example.com", warm, i)) }); err != nil {
			return cb, err
		}
		if err := waitMails(ctx, sesURL, warm, 8); err != nil {
			return cb, fmt.Errorf("%s warm-up: %w", r.name, err)
		}
		run := fmt.Sprintf("%s-%s", tag, r.name)
		waitIdle(s, ids)
		before := functionsCPU(s, ids)
		if err := sendAll(n, func(i int) error { return send(i+9, fmt.Sprintf("%s-%d@example.com", run, i)) }); err != nil {
			return cb, err
		}
		if err := waitMails(ctx, sesURL, run, n); err != nil {
			return cb, fmt.Errorf("%s: %w", r.name, err)
		}
		after := functionsCPU(s, ids)
		var total time.Duration
		for _, id := range ids {
			var d time.Duration
			for pid, t := range after[id] {
				d += t - before[id][pid] // a process started since counts from 0
			}
			cb.ByFunction[r.name+"."+id] = float64(d.Microseconds()) / 1000 / float64(n)
			total += d
		}
		cb.PerRequest[r.name] = float64(total.Microseconds()) / 1000 / float64(n)
	}
	inv, err := invocationCPU(s, tag, n)
	if err != nil {
		return cb, err
	}
	cb.InvocationMS = inv
	floor, err := cpuFloor(s.Tables, n)
	if err != nil {
		return cb, err
	}
	cb.FloorMSPerSignup = floor
	if floor > 0 {
		cb.FormsVsFloor = cb.ByFunction["signup.FormsFunction"] / floor
	}
	return cb, nil
}

// invocationCPU is the forms function's CPU per honeypot signup (202,
// nothing stored, nothing sent), n of them four at a time.
func invocationCPU(s *local.Stack, tag string, n int) (float64, error) {
	send := func(i int) error {
		ip := net.IPv4(127, 7, byte(200+i/250), byte(i%250+1))
		c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}}
		body := fmt.Sprintf(`{"email":"%s-hp-%d@example.com","consent":true,"website":"bot"}`, tag, i)
		resp, err := c.Post(s.URL+"/v1/subscriptions", "application/json", bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("honeypot signup: status %d", resp.StatusCode)
		}
		return nil
	}
	if err := sendAll(8, send); err != nil {
		return 0, err
	}
	ids := []string{"FormsFunction"}
	waitIdle(s, ids)
	before := functionsCPU(s, ids)
	if err := sendAll(n, func(i int) error { return send(i + 8) }); err != nil {
		return 0, err
	}
	waitIdle(s, ids)
	var d time.Duration
	for pid, t := range functionsCPU(s, ids)["FormsFunction"] {
		d += t - before["FormsFunction"][pid]
	}
	return float64(d.Microseconds()) / 1000 / float64(n), nil
}

// sendAll calls send for 0..n-1, four at a time, and returns the first
// error.
func sendAll(n int, send func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := send(i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// waitIdle waits until the functions' processes have not run for a
// second (the mail of earlier sections sent), a minute at most.
func waitIdle(s *local.Stack, ids []string) {
	sum := func() (t time.Duration) {
		for _, byPID := range functionsCPU(s, ids) {
			for _, d := range byPID {
				t += d
			}
		}
		return t
	}
	last := sum()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		now := sum()
		if now-last < time.Millisecond {
			return
		}
		last = now
	}
}

// waitMails waits until the SES emulator holds n emails to addresses
// containing tag (a minute at most).
func waitMails(ctx context.Context, sesURL, tag string, n int) error {
	deadline := time.Now().Add(time.Minute)
	got := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(sesURL + "/store")
		if err != nil {
			return err
		}
		var store struct {
			Emails []struct {
				Destination struct{ To []string } `json:"destination"`
			} `json:"emails"`
		}
		err = json.NewDecoder(resp.Body).Decode(&store)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("SES store: %w", err)
		}
		got = 0
		for _, e := range store.Emails {
			if strings.Contains(strings.Join(e.Destination.To, ","), tag) {
				got++
			}
		}
		if got >= n {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("%d of %d emails sent within a minute", got, n)
}
