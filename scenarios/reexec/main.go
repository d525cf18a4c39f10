// reexec-repro: re-executing /proc/self/exe, runc's nsenter constructor, and why fork(2) is not
// enough for a Go program. One binary, one --mode per variant; the last stdout line is the verdict.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runcNsenterVersion is the Debian version of golang-github-opencontainers-runc-dev this binary
// was built with (set with -ldflags -X at build time).
var runcNsenterVersion = "unknown"

func init() {
	// Keep the main goroutine on the main thread (m0). Go never ends m0, so without this a locked
	// goroutine that exits could land on m0 and its thread would be parked instead of ended,
	// hiding the pdeathsig-thread behaviour. It also keeps each child's re-exec dispatch simple.
	runtime.LockOSThread()

	reexecRegister("reprolab-ns-child", nsChild)
	reexecRegister("reprolab-deleted-stage", deletedStage)
	reexecRegister("reprolab-nsenter-target", nsTarget)
	reexecRegister("reprolab-nsenter-init", nsenterInit)
	reexecRegister("reprolab-sleeper", sleeper)
}

// attemptFunc runs one attempt. detected: the documented behaviour was observed. skip: a
// prerequisite is missing (reason). err: unexpected failure.
type attemptFunc func() (detected bool, ev map[string]interface{}, skip string, err error)

type verdict struct {
	Outcome  string                 `json:"outcome"`
	Attempts int                    `json:"attempts"`
	Evidence map[string]interface{} `json:"evidence"`
	Versions map[string]string      `json:"versions"`
}

func main() {
	if reexecInit() {
		return
	}
	mode := flag.String("mode", "reexec-namespaces", "variant to run")
	attempts := flag.Int("attempts", 1, "attempts (stop at the first detection unless --all)")
	all := flag.Bool("all", false, "run all attempts and report the rate")
	timeoutMs := flag.Int("timeout-ms", 2000, "bounded wait of the fork modes, per child")
	flag.Parse()

	switch *mode {
	case "fork-in-threads", "fork-exec":
		// The fork hazard is shown by a C program: in Go, fork without exec is not even offered.
		self, err := os.Executable()
		if err == nil {
			prog := filepath.Join(filepath.Dir(self), "forklock")
			args := []string{prog, "--mode", *mode, "--attempts", strconv.Itoa(*attempts),
				"--timeout-ms", strconv.Itoa(*timeoutMs)}
			if *all {
				args = append(args, "--all")
			}
			err = syscall.Exec(prog, args, os.Environ())
		}
		emit(verdict{Outcome: "error", Evidence: map[string]interface{}{"reason": "exec forklock: " + errString(err)}})
		return
	}

	var fn attemptFunc
	switch *mode {
	case "reexec-namespaces":
		fn = reexecNamespaces
	case "reexec-deleted":
		fn = reexecDeleted
	case "nsenter-constructor":
		fn = nsenterConstructor
	case "setns-after-runtime":
		fn = setnsAfterRuntime
	case "pdeathsig-thread":
		fn = pdeathsigThread
	default:
		emit(verdict{Outcome: "error", Evidence: map[string]interface{}{"reason": "unknown mode " + *mode}})
		os.Exit(2)
	}
	emit(runAttempts(*mode, fn, *attempts, *all))
}

func runAttempts(mode string, fn attemptFunc, attempts int, all bool) (v verdict) {
	v.Evidence = map[string]interface{}{}
	defer func() {
		if r := recover(); r != nil {
			v.Outcome = "error"
			v.Evidence["reason"] = fmt.Sprint("panic: ", r)
		}
	}()
	if attempts < 1 {
		attempts = 1
	}
	detections := 0
	var first map[string]interface{}
	var firstMs float64 = -1
	start := time.Now()
	for i := 1; i <= attempts; i++ {
		t0 := time.Now()
		detected, ev, skip, err := fn()
		ms := float64(time.Since(t0).Microseconds()) / 1000
		v.Attempts = i
		if err != nil {
			fmt.Printf("attempt %d: error: %v\n", i, err)
			v.Outcome = "error"
			v.Evidence = ev
			if v.Evidence == nil {
				v.Evidence = map[string]interface{}{}
			}
			v.Evidence["reason"] = err.Error()
			return v
		}
		if skip != "" {
			fmt.Printf("attempt %d: skipped: %s\n", i, skip)
			v.Outcome = "skipped"
			v.Evidence = map[string]interface{}{"reason": skip}
			return v
		}
		fmt.Printf("attempt %d: detected=%v after %.1f ms\n", i, detected, ms)
		if i == 1 {
			first = ev
		}
		if detected {
			detections++
			if detections == 1 {
				first = ev
				firstMs = float64(time.Since(start).Microseconds()) / 1000
			}
			if !all {
				break
			}
		}
	}
	v.Evidence = first
	if v.Evidence == nil {
		v.Evidence = map[string]interface{}{}
	}
	v.Evidence["mode"] = mode
	v.Evidence["detections"] = detections
	if detections > 0 {
		v.Outcome = "reproduced"
		v.Evidence["time_to_detect_ms"] = firstMs
	} else {
		v.Outcome = "not-reproduced"
	}
	return v
}

func emit(v verdict) {
	if v.Evidence == nil {
		v.Evidence = map[string]interface{}{}
	}
	var u syscall.Utsname
	syscall.Uname(&u)
	v.Versions = map[string]string{
		"go":           runtime.Version(),
		"kernel":       utsString(u.Release[:]),
		"runc_nsenter": runcNsenterVersion,
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"outcome": "error", "attempts": 0, "evidence": {"reason": "cannot encode verdict"}, "versions": {}}`)
	}
	os.Stdout.Sync()
	fmt.Printf("REPROLAB-RESULT %s\n", b)
}

// ---- small helpers -------------------------------------------------------------------------

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errnoName gives the errno's symbolic name ("EINVAL") when err wraps one.
func errnoName(err error) string {
	var e syscall.Errno
	if err == nil {
		return ""
	}
	if errors.As(err, &e) {
		for _, n := range []struct {
			e    syscall.Errno
			name string
		}{{syscall.EINVAL, "EINVAL"}, {syscall.EPERM, "EPERM"}, {syscall.ENOENT, "ENOENT"},
			{syscall.EACCES, "EACCES"}, {syscall.ENOSYS, "ENOSYS"}, {syscall.EBADF, "EBADF"},
			{syscall.EUSERS, "EUSERS"}, {syscall.ENOSPC, "ENOSPC"}, {syscall.ETXTBSY, "ETXTBSY"}} {
			if e == n.e {
				return n.name
			}
		}
		return fmt.Sprintf("errno %d", int(e))
	}
	return ""
}

func utsString(f []int8) string {
	b := make([]byte, 0, len(f))
	for _, c := range f {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// threadHostname is the UTS hostname of the calling thread (uname is per task).
func threadHostname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	return utsString(u.Nodename[:])
}

// nsLink reads /proc/<who>/ns/<ns>, e.g. "uts:[4026532123]".
func nsLink(who, ns string) string {
	s, err := os.Readlink("/proc/" + who + "/ns/" + ns)
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

func threadsOf(who string) int {
	b, err := ioutil.ReadFile("/proc/" + who + "/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "Threads:")))
			return n
		}
	}
	return -1
}

// waitTimeout waits for cmd; on timeout it kills the process and reports false.
func waitTimeout(cmd *exec.Cmd, d time.Duration) (error, bool) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err, true
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("timed out after %v", d), false
	}
}

// waitPidTimeout reaps a child that os/exec does not know about (CLONE_PARENT children of nsexec).
func waitPidTimeout(pid int, d time.Duration) (syscall.WaitStatus, bool) {
	var ws syscall.WaitStatus
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid || err == syscall.ECHILD {
			return ws, true
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	syscall.Wait4(pid, &ws, 0, nil)
	return ws, false
}

// lineReader turns a stream into lines delivered on a channel, so every read can be bounded.
type lineReader struct {
	lines chan string
	errs  chan error
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 16), errs: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				lr.lines <- s
			}
			if err != nil {
				lr.errs <- err
				return
			}
		}
	}()
	return lr
}

func (lr *lineReader) next(d time.Duration) (string, error) {
	select {
	case s := <-lr.lines:
		return s, nil
	case err := <-lr.errs:
		select { // a last line may have been queued just before the error
		case s := <-lr.lines:
			return s, nil
		default:
		}
		return "", err
	case <-time.After(d):
		return "", fmt.Errorf("no line within %v", d)
	}
}

// readJSONLine reads one JSON object line (leading NUL bytes skipped: runc 1.1's nsexec writes one
// NUL byte before anything else to say it is past its setup).
func readJSONLine(lr *lineReader, d time.Duration) (map[string]interface{}, string, error) {
	s, err := lr.next(d)
	if err != nil {
		return nil, s, err
	}
	s = strings.TrimLeft(s, "\x00")
	if strings.TrimSpace(s) == "" {
		return nil, s, fmt.Errorf("stream ended without a report")
	}
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, s, fmt.Errorf("bad JSON line %q: %v", s, err)
	}
	return m, s, nil
}

func isPerm(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}
