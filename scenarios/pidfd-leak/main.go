// pidfd-leak: does this Go release leave pidfds open that its caller believes released?
//
// Since Go 1.23, on Linux, os.StartProcess and os.FindProcess open a pidfd for the process and
// keep it in the *os.Process until Release, Wait or a GC finalizer closes it. Two patterns leak:
//   findprocess   os.FindProcess(pid) without Release, as hashicorp/go-plugin's _pidAlive did once
//                 per second per plugin (hashicorp/go-plugin#378, hashicorp/nomad#27847);
//   failed-start  exec.Cmd.Start failing after the clone (the exec fails): Go 1.23.0 and 1.23.1 do
//                 not close the new child's pidfd (golang/go#69284).
// Controls on the same release: findprocess-release (Release after each FindProcess) and
// wait-child (Start then Wait).
//
// The verdict comes only from what the process holds: every /proc/self/fd link is read before and
// after the calls, and the links that name anon_inode:[pidfd] are counted. Whether pidfds exist
// at all here (kernel, seccomp) is probed with pidfd_open(2) itself and reported, because Go falls
// back to plain pids without them; without them the bug cannot show, and the verdict says skipped.
//
// Built with GO111MODULE=off; it uses nothing newer than Go 1.21, and only packages os/exec
// needs anyway (no fmt, flag, encoding/json): the build compiles the standard library it imports
// from source for every release, so fewer packages mean a faster probe.
package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const pidfdTarget = "anon_inode:[pidfd]"

// jsonValue writes the few kinds of values the verdict holds: strings, ints, string lists.
func jsonValue(v interface{}) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x) // Go's quoting is valid JSON for the ASCII texts used here
	case int:
		return strconv.Itoa(x)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]interface{}:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ": " + jsonValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "null"
}

func sortStrings(s []string) { // insertion sort: a few dozen items
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// fds returns the link target of every open fd of this process, by fd number.
func fds() map[string]string {
	out := map[string]string{}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return out
	}
	names, _ := d.Readdirnames(-1)
	own := strconv.Itoa(int(d.Fd()))
	for _, n := range names {
		if n == own {
			continue // the directory being read
		}
		if t, err := os.Readlink("/proc/self/fd/" + n); err == nil {
			out[n] = t
		}
	}
	d.Close()
	return out
}

func pidfds(m map[string]string) int {
	n := 0
	for _, t := range m {
		if t == pidfdTarget {
			n++
		}
	}
	return n
}

// added lists the fds open now that were not open before, as "fd -> target", sorted, at most max.
func added(before, after map[string]string, max int) []string {
	var out []string
	for fd, t := range after {
		if before[fd] != t {
			out = append(out, fd+" -> "+t)
		}
	}
	sortStrings(out)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// pidfdSupport asks the kernel for a pidfd of this process, as Go's own probe does first.
func pidfdSupport() string {
	const sysPidfdOpen = 434 // the same number on every Linux architecture
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(os.Getpid()), 0, 0)
	if errno != 0 {
		return "unavailable: pidfd_open: " + errno.Error()
	}
	syscall.Close(int(fd))
	return "available"
}

func statusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+":") {
			return strings.TrimSpace(strings.TrimPrefix(line, name+":"))
		}
	}
	return ""
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func emit(outcome string, attempts int, ev map[string]interface{}) {
	versions := map[string]interface{}{"go": runtime.Version(), "kernel": kernel()}
	line := "REPROLAB-RESULT {\"outcome\": " + jsonValue(outcome) + ", \"attempts\": " + jsonValue(attempts) +
		", \"evidence\": " + jsonValue(ev) + ", \"versions\": " + jsonValue(versions) + "}\n"
	os.Stdout.WriteString(line)
}

// args: --mode MODE --n N (no flag package: see the imports)
func args() (string, int, string) {
	mode, n := "findprocess", 100
	a := os.Args[1:]
	for i := 0; i < len(a); i++ {
		switch {
		case a[i] == "--mode" && i+1 < len(a):
			mode = a[i+1]
			i++
		case a[i] == "--n" && i+1 < len(a):
			v, err := strconv.Atoi(a[i+1])
			if err != nil || v < 1 {
				return mode, n, "--n " + a[i+1] + " is not a positive number"
			}
			n = v
			i++
		default:
			return mode, n, "unknown argument " + a[i] + " (--mode MODE --n N)"
		}
	}
	return mode, n, ""
}

func main() {
	modeValue, nValue, bad := args()
	mode, n := &modeValue, &nValue
	if bad != "" {
		emit("error", 0, map[string]interface{}{"reason": bad})
		return
	}

	support := pidfdSupport()
	ev := map[string]interface{}{
		"mode": *mode, "calls": *n, "pidfd_support": support, "kernel": kernel(),
		"seccomp": statusField("Seccomp"), "go": runtime.Version(),
	}
	if support != "available" {
		ev["reason"] = "no pidfds here (" + support + "): Go falls back to plain pids, so the leak cannot show"
		emit("skipped", 0, ev)
		return
	}

	// A long-lived child, as go-plugin's plugins are: FindProcess looks it up by pid.
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		ev["reason"] = "cannot start the child: " + err.Error()
		emit("error", 0, ev)
		return
	}
	defer child.Process.Kill()
	pid := child.Process.Pid

	before := fds()
	var held []*os.Process // the caller keeps its handles reachable, so no finalizer closes them
	failures := 0
	switch *mode {
	case "findprocess", "findprocess-release":
		for i := 0; i < *n; i++ {
			p, err := os.FindProcess(pid)
			if err != nil {
				failures++
				continue
			}
			if *mode == "findprocess-release" {
				p.Release()
			} else {
				held = append(held, p)
			}
		}
	case "failed-start":
		for i := 0; i < *n; i++ {
			if err := exec.Command("/nonexistent/reprolab-no-such-program").Start(); err == nil {
				ev["reason"] = "a start that must fail succeeded"
				emit("error", 0, ev)
				return
			}
			failures++
		}
	case "wait-child":
		for i := 0; i < *n; i++ {
			if err := exec.Command("true").Run(); err != nil {
				failures++
			}
		}
	default:
		ev["reason"] = "unknown mode " + *mode
		emit("error", 0, ev)
		return
	}
	after := fds()
	leaked := pidfds(after) - pidfds(before)
	ev["fds_before"], ev["fds_after"] = len(before), len(after)
	ev["pidfds_before"], ev["pidfds_after"], ev["pidfds_added"] = pidfds(before), pidfds(after), leaked
	ev["failed_calls"] = failures
	ev["added_fds_sample"] = added(before, after, 3)
	if len(held) > 0 {
		// What the leak's owner never sees: the fds go only when the GC finalizes the handles.
		held = nil
		runtime.GC()
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		ev["pidfds_after_gc"] = pidfds(fds()) - pidfds(before)
	}
	runtime.KeepAlive(held)
	outcome := "not-reproduced"
	if leaked > 0 {
		outcome = "reproduced"
	}
	emit(outcome, *n, ev)
}
