package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Function is one AWS::Serverless::Function with Globals merged in, as SAM
// merges them: scalars replaced, environment maps merged.
type Function struct {
	ID       string
	CodeURI  string
	Timeout  time.Duration
	MemoryMB int
	Env      map[string]string
	Events   map[string]Event
	// AsyncRetries and AsyncOnFailure are its EventInvokeConfig: how
	// often Lambda retries an asynchronous invocation that failed (2 by
	// default), and where it records one it gave up on.
	AsyncRetries   int
	AsyncOnFailure string
	Bootstrap      string // path of the built binary
	pool           chan *worker
	out            io.Writer
	rie            string
	environ        []string
	startMu        sync.Mutex
	allWorkers     []*worker
	closed         bool      // stopped: no process may start any more
	activity       *activity // the stack's: an invocation is in flight (WaitIdle)
}

// Event is one event source of a function, its properties resolved.
type Event struct {
	Type       string
	Properties map[string]any
}

// Functions reads the template's functions with their resolved settings.
func Functions(t *Template, r *Resolver) ([]*Function, error) {
	glob := asMap(t.Globals["Function"])
	var fns []*Function
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		if ok, err := r.Exists(id); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		} else if !ok {
			continue // its Condition is false: not in this stack
		}
		props := t.Resources[id].Properties
		get := func(k string) any {
			if v, ok := props[k]; ok {
				return v
			}
			return glob[k]
		}
		f := &Function{ID: id, CodeURI: asString(get("CodeUri")), Env: map[string]string{}, Events: map[string]Event{}}
		timeout, err := strconv.Atoi(asString(orDefault(get("Timeout"), "3")))
		if err != nil {
			return nil, fmt.Errorf("%s Timeout: %w", id, err)
		}
		f.Timeout = time.Duration(timeout) * time.Second
		if f.MemoryMB, err = strconv.Atoi(asString(orDefault(get("MemorySize"), "128"))); err != nil {
			return nil, fmt.Errorf("%s MemorySize: %w", id, err)
		}
		for _, src := range []any{asMap(asMap(glob["Environment"])["Variables"]), asMap(asMap(props["Environment"])["Variables"])} {
			for k, v := range asMap(src) {
				rv, err := r.Resolve(v)
				if err != nil {
					return nil, fmt.Errorf("%s environment %s: %w", id, k, err)
				}
				f.Env[k] = asString(rv)
			}
		}
		f.AsyncRetries = 2
		if cfg := props["EventInvokeConfig"]; cfg != nil {
			rc, err := r.Resolve(cfg)
			if err != nil {
				return nil, fmt.Errorf("%s EventInvokeConfig: %w", id, err)
			}
			if n := asString(asMap(rc)["MaximumRetryAttempts"]); n != "" {
				if f.AsyncRetries, err = strconv.Atoi(n); err != nil {
					return nil, fmt.Errorf("%s EventInvokeConfig MaximumRetryAttempts: %w", id, err)
				}
			}
			f.AsyncOnFailure = onFailure(asMap(rc))
		}
		for name, e := range asMap(props["Events"]) {
			em := asMap(e)
			p, err := r.Resolve(em["Properties"])
			if err != nil {
				return nil, fmt.Errorf("%s event %s: %w", id, name, err)
			}
			f.Events[name] = Event{Type: asString(em["Type"]), Properties: asMap(p)}
		}
		fns = append(fns, f)
	}
	return fns, nil
}

func orDefault(v any, d string) any {
	if v == nil {
		return d
	}
	return v
}

// Build compiles each function's bootstrap for this machine (the runtime
// emulator runs it natively), with the flags the Makefile uses for AWS:
// one go build for all of them (the packages compile once and link in
// parallel; one invocation per function took twice as long). Once per
// process and output: the sources do not change under a running process,
// and every stack of a test binary (the end-to-end tests start dozens)
// shares one build instead of relinking each. Across processes too: the
// go build writes into one directory under root (BuildDir), where
// go relinks only a binary that is out of date (it compares the build ID
// it wrote into the binary), so the other test binaries and the bench
// of one make test link each function once between them.
func Build(ctx context.Context, root, outDir string, fns []*Function) error {
	builds.Lock()
	defer builds.Unlock()
	var todo []*Function
	for _, f := range fns {
		f.Bootstrap = filepath.Join(outDir, f.ID, "bootstrap")
		if err, ok := builds.done[f.Bootstrap]; ok {
			if err != nil {
				return err
			}
			continue
		}
		todo = append(todo, f)
	}
	if len(todo) == 0 {
		return nil
	}
	err := buildAll(ctx, root, outDir, todo)
	for _, f := range todo {
		builds.done[f.Bootstrap] = err
	}
	return err
}

var builds = struct {
	sync.Mutex
	done map[string]error // by bootstrap path
}{done: map[string]error{}}

// BuildDir is where every process of a checkout builds the functions
// (buildAll), each binary named for its package.
func BuildDir(root string) string {
	return filepath.Join(root, ".local", "build-cache", "functions")
}

// buildAll builds the functions' packages into the shared directory, one
// process at a time (an flock: the end-to-end tests, the bench and its
// campaign test of one make test build at once), and links each
// binary into place under outDir by a new name renamed over the old: a
// stack that is running the old binary keeps it (go, too, replaces a
// binary it relinks rather than writing into it).
func buildAll(ctx context.Context, root, outDir string, fns []*Function) error {
	shared := BuildDir(root)
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(shared, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close() // which unlocks it
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("build functions: lock %s: %w", lock.Name(), err)
	}
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", shared + string(filepath.Separator)}
	byName := map[string]*Function{}
	for _, f := range fns {
		pkg := filepath.Clean(f.CodeURI)
		name := filepath.Base(pkg)
		if other, ok := byName[name]; ok {
			return fmt.Errorf("build %s and %s: two packages named %s", other.ID, f.ID, name)
		}
		byName[name] = f
		args = append(args, "./"+pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions: %w\n%s", err, out)
	}
	for name, f := range byName {
		if err := placeBinary(filepath.Join(shared, name), f.Bootstrap); err != nil {
			return fmt.Errorf("build %s: %w", f.ID, err)
		}
	}
	return nil
}

// placeBinary puts a hard link of (or, across file systems, a copy of)
// src at dst, by a temporary name renamed over dst.
func placeBinary(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".new"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// worker is one runtime-emulator process. It serves one invocation at a
// time: the emulator crashes on a second concurrent invoke.
type worker struct {
	fn   *Function
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	// ended has a value for each "END RequestId:" line the emulator
	// wrote: the end of an invocation, after everything the function
	// wrote during it (one pipe carries both, in order).
	ended chan struct{}
}

// freePort is a port free now for an emulator process to listen on. It
// is drawn below the kernel's ephemeral range (32768-60999 by default):
// a port of that range, free when chosen, was often taken before the
// emulator bound it by an outgoing connection's local port (the stacks
// keep hundreds open to DynamoDB Local), and the emulator, which binds its
// runtime API only at its first invocation, then died inside it.
func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12000)))
		if err != nil {
			continue // in use: draw again
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	return 0, errors.New("no free port in 20000-31999")
}

// start makes the function's pool of emulator processes: size slots, each
// started on its first invocation (as Lambda starts an execution
// environment on demand; a stack whose test invokes three of its sixteen
// functions starts three). base holds what the Lambda service itself would
// set (region, credentials); overrides replace values of variables the
// template declares, as sam local's --env-vars does, and are dropped for
// undeclared ones.
func (f *Function) start(rie string, size int, base, overrides map[string]string, out io.Writer) {
	f.pool = make(chan *worker, size)
	f.out, f.rie = out, rie
	f.environ = environ(f, base, overrides)
	for i := 0; i < size; i++ {
		f.pool <- nil // not started yet
	}
}

func environ(f *Function, base, overrides map[string]string) []string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "TZ": "UTC", "LANG": "C.UTF-8",
		"AWS_LAMBDA_FUNCTION_NAME":        f.ID,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(f.Timeout.Seconds())),
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
	}
	for k, v := range base {
		env[k] = v
	}
	for k, v := range f.Env {
		env[k] = v
	}
	for k, v := range overrides {
		if _, declared := f.Env[k]; declared {
			env[k] = v
		}
	}
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// errExitedAtStart is an emulator process that ended before it listened:
// most often one of its two ports, free when chosen, was taken by another
// process in between. A new pair of ports fixes it.
var errExitedAtStart = errors.New("exited at start")

// spawn starts an emulator process, trying new ports when one is lost to a
// race with another process.
func (f *Function) spawn(ctx context.Context) (*worker, error) {
	for attempt := 1; ; attempt++ {
		w, err := f.spawnOnce(ctx)
		if errors.Is(err, errExitedAtStart) && attempt < 5 {
			continue
		}
		return w, err
	}
}

func (f *Function) spawnOnce(ctx context.Context) (*worker, error) {
	p1, err := freePort()
	if err != nil {
		return nil, err
	}
	p2, err := freePort()
	if err != nil {
		return nil, err
	}
	w := &worker{fn: f, addr: "127.0.0.1:" + strconv.Itoa(p1), done: make(chan struct{}), ended: make(chan struct{}, 8)}
	w.cmd = exec.Command(f.rie, "--runtime-interface-emulator-address", w.addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(p2), f.Bootstrap)
	w.cmd.Env = f.environ
	pr, pw := io.Pipe()
	w.cmd.Stdout, w.cmd.Stderr = pw, pw
	// Start and register under the lock that stop takes, so that an
	// invocation still running when the stack closes cannot leave a
	// process behind.
	f.startMu.Lock()
	if f.closed {
		f.startMu.Unlock()
		return nil, fmt.Errorf("emulator for %s: the stack is closed", f.ID)
	}
	if err := w.cmd.Start(); err != nil {
		f.startMu.Unlock()
		return nil, fmt.Errorf("start emulator for %s: %w", f.ID, err)
	}
	f.allWorkers = append(f.allWorkers, w)
	f.startMu.Unlock()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(f.out, "%s\t%s\n", f.ID, sc.Bytes())
			if bytes.HasPrefix(sc.Bytes(), []byte("END RequestId:")) {
				select {
				case w.ended <- struct{}{}:
				default:
				}
			}
		}
	}()
	go func() {
		_ = w.cmd.Wait()
		pw.Close()
		close(w.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", w.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return w, nil
		}
		select {
		case <-w.done:
			return nil, fmt.Errorf("emulator for %s: %w", f.ID, errExitedAtStart)
		case <-ctx.Done():
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("emulator for %s did not listen on %s", f.ID, w.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *worker) stop() {
	if w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
	}
	<-w.done
}

// FunctionError is an invocation that ended in the handler's error (or a
// crash, a timeout): what Lambda reports as a function error.
type FunctionError struct {
	Function string
	Message  string
}

func (e *FunctionError) Error() string { return e.Function + ": function error: " + e.Message }

var invokeClient = &http.Client{}

// Invoke sends one event to a free emulator process of the function and
// returns the handler's response. A process that fails is replaced.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	f.activity.begin()
	defer f.activity.end()
	var w *worker
	select {
	case w = <-f.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if w == nil {
		var err error
		if w, err = f.spawn(context.WithoutCancel(ctx)); err != nil {
			f.pool <- nil // the next invocation tries again
			return nil, err
		}
	}
	body, err := w.invoke(ctx, event)
	var fe *FunctionError
	if err != nil && !errors.As(err, &fe) || (fe != nil && fe.Message == "process exited") {
		w.stop()
		nw, serr := f.spawn(context.WithoutCancel(ctx))
		if serr != nil {
			fmt.Fprintf(f.out, "%s\tlocal gateway: cannot restart emulator: %v\n", f.ID, serr)
			// Keep the pool size: put the dead worker back; the next
			// invoke fails and tries to restart it again.
			nw = w
		}
		w = nw
	}
	f.pool <- w
	return body, err
}

func (w *worker) invoke(ctx context.Context, event []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, w.fn.Timeout+5*time.Second)
	defer cancel()
	for len(w.ended) > 0 { // an earlier invocation's end, not waited for
		<-w.ended
	}
	// The answer goes back once the function's log of this invocation is
	// in the stack's log (it may arrive after the answer): a test reading
	// the log after a response sees what the function wrote.
	defer func() {
		select {
		case <-w.ended:
		case <-w.done:
		case <-time.After(time.Second):
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+w.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := invokeClient.Do(req)
	if err != nil {
		select {
		case <-w.done:
			return nil, &FunctionError{Function: w.fn.ID, Message: "process exited"}
		default:
		}
		return nil, fmt.Errorf("invoke %s: %w", w.fn.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 7<<20))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read response: %w", w.fn.ID, err)
	}
	var probe struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" ||
		(json.Unmarshal(body, &probe) == nil && probe.ErrorMessage != nil) {
		msg := string(body)
		if probe.ErrorMessage != nil {
			msg = probe.ErrorType + ": " + *probe.ErrorMessage
		}
		return nil, &FunctionError{Function: w.fn.ID, Message: msg}
	}
	return body, nil
}

// ColdStart starts a fresh emulator process of the function, outside its
// pool, and times its first invocation of event: the runtime's start
// (package init, configuration, secret, clients) and the handler. The
// process is stopped after.
func (f *Function) ColdStart(ctx context.Context, event []byte) (time.Duration, error) {
	w, err := f.spawn(ctx)
	if err != nil {
		return 0, err
	}
	defer w.stop()
	start := time.Now()
	if _, err := w.invoke(ctx, event); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// RuntimePIDs returns the process ids of the function's runtimes (its
// bootstrap processes, children of the emulator processes), for fault tests
// that kill a function mid-invocation as Lambda can.
func (f *Function) RuntimePIDs() []int {
	f.startMu.Lock()
	parents := map[string]bool{}
	for _, w := range f.allWorkers {
		if w.cmd.Process != nil {
			parents[strconv.Itoa(w.cmd.Process.Pid)] = true
		}
	}
	f.startMu.Unlock()
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if ppid, ok := strings.CutPrefix(line, "PPid:"); ok && parents[strings.TrimSpace(ppid)] {
				out = append(out, pid)
			}
		}
	}
	return out
}

// stop ends every emulator process of the function.
func (f *Function) stop() {
	f.startMu.Lock()
	defer f.startMu.Unlock()
	f.closed = true
	for _, w := range f.allWorkers {
		w.stop()
	}
}
