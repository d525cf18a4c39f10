// lxc-fd-race, variant go-lxc: the race of go-lxc issue 66 against the real liblxc of this suite.
//
// Goroutines churn os.Pipe() (a rolling pool each) beside a few long-lived pipes while Start()
// daemonizes a busybox system container. liblxc forks without exec, so O_CLOEXEC cannot protect
// these pipes: only liblxc closing inherited fds in the forked child does. After each start the
// pipe inodes held by every process the start forked (monitor, init, their children) are
// intersected with the inodes this program created, and the symptom is tested: close a write end
// and wait, bounded, for EOF. A sampler also watches the forked processes while Start() is still
// running, to show the window in which the intermediate still holds the parent's pipes.
//
// Written for GOPATH mode against Debian's golang-gopkg-lxc-go-lxc.v2-dev; Go 1.15 compatible
// (io/ioutil, no os.ReadFile).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lxc "gopkg.in/lxc/go-lxc.v2"
)

const (
	kindPinned          = 1
	kindChurn           = 2
	kindDuringStart     = 3
	prSetChildSubreaper = 36
	setupEvidence       = "/run/reprolab-lxc-setup.json"
)

var (
	attempts   = flag.Int("attempts", 3, "container starts to try (stops at the first detection unless --all)")
	runAll     = flag.Bool("all", false, "run every attempt even after a detection (rates)")
	goroutines = flag.Int("goroutines", 1, "pipe-churning goroutines")
	poolSize   = flag.Int("pool", 256, "pipes each goroutine keeps open (rolling)")
	eofWaitMs  = flag.Int("eof-wait-ms", 300, "how long to wait for EOF after closing a write end")
	name       = flag.String("name", "fdrace", "LXC container name")
)

type pipe struct {
	r, w *os.File
	ino  uint64
}

func inode(f *os.File) uint64 {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	return st.Ino
}

// churner keeps a rolling pool of pipes and records the inode of every pipe it created.
type churner struct {
	mu      sync.Mutex
	pool    []pipe
	head    int
	created map[uint64]int
}

func (c *churner) run(phase *int32, count *int64, done *sync.WaitGroup) {
	defer done.Done()
	for atomic.LoadInt32(phase) < 2 {
		r, w, err := os.Pipe()
		if err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		p := pipe{r, w, inode(r)}
		kind := kindChurn
		if atomic.LoadInt32(phase) == 1 {
			kind = kindDuringStart
		}
		c.mu.Lock()
		c.created[p.ino] = kind
		if len(c.pool) < *poolSize {
			c.pool = append(c.pool, p)
		} else {
			old := c.pool[c.head]
			old.r.Close()
			old.w.Close()
			c.pool[c.head] = p
			c.head = (c.head + 1) % *poolSize
		}
		c.mu.Unlock()
		atomic.AddInt64(count, 1)
	}
}

// ---- /proc helpers ----

func ppidOf(pid int) int {
	b, err := ioutil.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return -1
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return -1
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// descendants lists the processes forked by us, directly or not. We are a child subreaper, so
// liblxc's double-forked monitor is reparented to us and stays in our tree.
func descendants() []int {
	self := os.Getpid()
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		for p, depth := pid, 0; p > 1 && depth < 64; depth++ {
			pp := ppidOf(p)
			if pp == self {
				out = append(out, pid)
				break
			}
			p = pp
		}
	}
	return out
}

func pipeInodes(pid int) []uint64 {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []uint64
	for _, n := range names {
		l, err := os.Readlink(dir + "/" + n)
		if err != nil || !strings.HasPrefix(l, "pipe:[") {
			continue
		}
		if ino, err := strconv.ParseUint(strings.TrimSuffix(l[6:], "]"), 10, 64); err == nil {
			out = append(out, ino)
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := ioutil.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	s := strings.TrimSpace(strings.Replace(string(b), "\x00", " ", -1))
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// seen is what the sampler saw of one forked process while Start() was running.
type seen struct {
	ppid    int
	cmd     string
	inodes  map[uint64]bool
	maxFds  int
	samples int
}

func sample(stop *int32, out map[int]*seen, rounds *int) {
	for atomic.LoadInt32(stop) == 0 {
		for _, pid := range descendants() {
			inos := pipeInodes(pid)
			s := out[pid]
			if s == nil {
				s = &seen{ppid: ppidOf(pid), cmd: cmdline(pid), inodes: map[uint64]bool{}}
				out[pid] = s
			}
			s.samples++
			if len(inos) > s.maxFds {
				s.maxFds = len(inos)
			}
			for _, i := range inos {
				s.inodes[i] = true
			}
		}
		*rounds++
	}
}

func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// ---- verdict ----

type result struct {
	Outcome  string                 `json:"outcome"`
	Attempts int                    `json:"attempts"`
	Evidence map[string]interface{} `json:"evidence"`
	Versions map[string]string      `json:"versions"`
}

func emit(r result) {
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(`{"outcome": "error", "attempts": 0, "evidence": {"reason": "cannot encode result"}, "versions": {}}`)
	}
	fmt.Printf("REPROLAB-RESULT %s\n", b)
}

func versions() map[string]string {
	v := map[string]string{"go": runtime.Version()}
	if b, err := ioutil.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		v["kernel"] = strings.TrimSpace(string(b))
	}
	exe, _ := os.Executable()
	if b, err := ioutil.ReadFile(filepath.Join(filepath.Dir(exe), "go-lxc.version")); err == nil {
		v["go-lxc"] = strings.TrimSpace(string(b))
	}
	if b, err := ioutil.ReadFile("/etc/debian_version"); err == nil {
		v["debian"] = strings.TrimSpace(string(b))
	}
	return v
}

func main() {
	flag.Parse()
	res := result{Outcome: "error", Evidence: map[string]interface{}{}, Versions: versions()}
	defer func() {
		if r := recover(); r != nil {
			res.Outcome = "error"
			res.Evidence["reason"] = fmt.Sprint("panic: ", r)
		}
		emit(res)
	}()
	res.Versions["liblxc"] = lxc.Version()
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)

	exe, _ := os.Executable()
	out, err := exec.Command(filepath.Join(filepath.Dir(exe), "setup-lxc.sh"), *name).CombinedOutput()
	msg := strings.TrimSpace(string(out))
	fmt.Println("setup:", msg)
	// What setup observed (AppArmor, cgroup layout, v2 delegation) and set (default.conf).
	if b, rerr := ioutil.ReadFile(setupEvidence); rerr == nil {
		var se map[string]interface{}
		if json.Unmarshal(b, &se) == nil {
			res.Evidence["setup"] = se
		}
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			res.Outcome = "skipped"
			res.Evidence["reason"] = strings.TrimPrefix(msg, "SKIP: ")
		} else {
			res.Evidence["reason"] = "setup failed: " + msg
		}
		return
	}
	if i := strings.LastIndex(msg, "layout="); i >= 0 {
		res.Versions["cgroup"] = strings.Fields(msg[i+7:])[0]
	}

	c, err := lxc.NewContainer(*name, lxc.DefaultConfigPath())
	if err != nil {
		res.Evidence["reason"] = "NewContainer: " + err.Error()
		return
	}
	// The LSM settings as liblxc itself parsed them from the container's config.
	lsm := map[string]interface{}{}
	for _, key := range []string{"lxc.apparmor.profile", "lxc.apparmor.allow_incomplete", "lxc.apparmor.allow_nesting"} {
		lsm[key] = strings.Join(c.ConfigItem(key), ",")
	}
	res.Evidence["lsm"] = lsm
	logFile := "/tmp/lxc-" + *name + ".log"
	c.SetLogFile(logFile)
	c.SetLogLevel(lxc.WARN)
	c.WantDaemonize(true)
	fmt.Printf("go-lxc: liblxc %s, %s; %d goroutines x %d pipes churn while Start() daemonizes %q\n",
		lxc.Version(), runtime.Version(), *goroutines, *poolSize, *name)

	begin := time.Now()
	var detections, hangs, eofs, startFailures, attempt int
	var churnTotal, duringTotal int64
	var startMs []float64
	transientMax, transientProcs := 0, 0
	transientRole := ""
	var firstEv map[string]interface{}

	for attempt = 1; attempt <= *attempts; attempt++ {
		var phase int32
		var count int64
		var pinned []pipe
		for i := 0; i < 4; i++ {
			r, w, err := os.Pipe()
			if err != nil {
				res.Evidence["reason"] = "pipe: " + err.Error()
				return
			}
			pinned = append(pinned, pipe{r, w, inode(r)})
		}
		churners := make([]*churner, *goroutines)
		var wg sync.WaitGroup
		for i := range churners {
			churners[i] = &churner{created: map[uint64]int{}}
			wg.Add(1)
			go churners[i].run(&phase, &count, &wg)
		}
		time.Sleep(20 * time.Millisecond)

		var stopSampler int32
		samples := map[int]*seen{}
		rounds := 0
		samplerDone := make(chan struct{})
		go func() { sample(&stopSampler, samples, &rounds); close(samplerDone) }()

		before := atomic.LoadInt64(&count)
		atomic.StoreInt32(&phase, 1)
		t0 := time.Now()
		startErr := c.Start()
		elapsed := time.Since(t0)
		during := atomic.LoadInt64(&count) - before
		atomic.StoreInt32(&phase, 2)
		atomic.StoreInt32(&stopSampler, 1)
		wg.Wait()
		<-samplerDone
		startMs = append(startMs, float64(elapsed.Microseconds())/1000)
		churnTotal += atomic.LoadInt64(&count)
		duringTotal += during

		// What we created, and what we still hold.
		created := map[uint64]int{}
		held := map[uint64]pipe{}
		for _, p := range pinned {
			created[p.ino] = kindPinned
			held[p.ino] = p
		}
		for _, ch := range churners {
			for k, v := range ch.created {
				created[k] = v
			}
			for _, p := range ch.pool {
				held[p.ino] = p
			}
		}

		initPid, monitorPid := -1, -1
		if startErr != nil {
			startFailures++
			tail, _ := ioutil.ReadFile(logFile)
			lines := strings.Split(strings.TrimSpace(string(tail)), "\n")
			if len(lines) > 3 {
				lines = lines[len(lines)-3:]
			}
			fmt.Printf("attempt %d: Start() failed: %v; log: %s\n", attempt, startErr, strings.Join(lines, " | "))
			res.Evidence["start_error"] = startErr.Error() + ": " + strings.Join(lines, " | ")
		} else {
			initPid = c.InitPid()
			monitorPid = ppidOf(initPid)
		}

		// Transient window: the forked processes while Start() was still running.
		for pid, s := range samples {
			n := 0
			for ino := range s.inodes {
				if created[ino] != 0 {
					n++
				}
			}
			if n > 0 {
				transientProcs++
			}
			if n > transientMax {
				transientMax = n
				transientRole = "intermediate"
				if pid == monitorPid {
					transientRole = "monitor (before it closed inherited fds)"
				} else if pid == initPid {
					transientRole = "init"
				}
				transientRole += fmt.Sprintf(", pid %d, ppid %d, %q, %d samples", pid, s.ppid, s.cmd, s.samples)
			}
		}

		// After Start(): every process the start forked, intersected with our pipes.
		procs := descendants()
		leaked, leakedPinned, leakedDuring, leakedHeld := 0, 0, 0, 0
		var examples []uint64
		holders := map[string]int{}
		var heldLeak *pipe
		for _, pid := range procs {
			role := "other descendant"
			switch {
			case pid == monitorPid:
				role = "monitor"
			case pid == initPid:
				role = "init"
			case initPid > 0 && ppidOf(pid) == initPid:
				role = "child of init"
			}
			for _, ino := range pipeInodes(pid) {
				k := created[ino]
				if k == 0 {
					continue
				}
				leaked++
				holders[role]++
				if k == kindPinned {
					leakedPinned++
				}
				if k == kindDuringStart {
					leakedDuring++
				}
				if p, ok := held[ino]; ok {
					leakedHeld++
					if heldLeak == nil {
						heldLeak = &p
					}
				}
				if len(examples) < 4 {
					examples = append(examples, ino)
				}
			}
		}

		// The symptom: close a write end we hold and wait, bounded, for EOF.
		target := pinned[0]
		if heldLeak != nil {
			target = *heldLeak
		}
		target.w.Close()
		target.r.SetReadDeadline(time.Now().Add(time.Duration(*eofWaitMs) * time.Millisecond))
		t1 := time.Now()
		_, rerr := target.r.Read(make([]byte, 1))
		waited := time.Since(t1)
		timedOut := false
		if te, ok := rerr.(interface{ Timeout() bool }); ok && te.Timeout() {
			timedOut = true
		}
		if timedOut {
			hangs++
		} else {
			eofs++
		}
		eofText := "yes"
		if timedOut {
			eofText = "NO, reader would hang"
		}
		fmt.Printf("attempt %d: Start() %.0f ms (%d pipes created during it), monitor %d init %d; "+
			"%d forked processes hold %d of our pipe fds (%d pinned, %d created during Start, %d still held by us); "+
			"transient: %d sampler rounds saw up to %d; EOF after closing write end: %s (%d ms)\n",
			attempt, float64(elapsed.Microseconds())/1000, during, monitorPid, initPid, len(procs), leaked,
			leakedPinned, leakedDuring, leakedHeld, rounds, transientMax, eofText, waited.Milliseconds())

		ev := map[string]interface{}{
			"forked_processes": len(procs), "intersecting_fds": leaked, "intersecting_pinned": leakedPinned,
			"intersecting_created_during_start": leakedDuring, "intersecting_still_held": leakedHeld,
			"example_inodes": append([]uint64{}, examples...), "holders": holders, "eof": !timedOut, "eof_wait_ms": waited.Milliseconds(),
		}
		if leaked > 0 {
			if detections == 0 {
				firstEv = ev
				res.Evidence["time_to_detect_ms"] = time.Since(begin).Milliseconds()
				fmt.Printf("Found the following intersecting inodes: %v\n*** inode race detected after %d attempts\n", examples, attempt)
			}
			detections++
		} else if firstEv == nil {
			res.Evidence["last_attempt"] = ev
		}

		// Stop the container and drop this attempt's pipes.
		if startErr == nil {
			if err := c.Stop(); err != nil {
				fmt.Println("Stop():", err)
			}
			c.Wait(lxc.STOPPED, 10*time.Second)
		}
		for i := 0; i < 50; i++ {
			reap()
			if len(descendants()) == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, p := range held {
			p.r.Close()
			p.w.Close()
		}
		if detections > 0 && !*runAll {
			break
		}
	}
	if attempt > *attempts {
		attempt = *attempts
	}
	res.Attempts = attempt
	sort.Float64s(startMs)
	if firstEv != nil {
		res.Evidence["first_detection"] = firstEv
		delete(res.Evidence, "last_attempt")
	}
	res.Evidence["detections"] = detections
	res.Evidence["eof_hangs"] = hangs
	res.Evidence["eofs"] = eofs
	res.Evidence["eof_wait_limit_ms"] = *eofWaitMs
	res.Evidence["start_failures"] = startFailures
	res.Evidence["pipes_churned"] = churnTotal
	res.Evidence["pipes_created_during_start"] = duringTotal
	if len(startMs) > 0 {
		res.Evidence["median_start_ms"] = startMs[len(startMs)/2]
	}
	res.Evidence["transient_max_parent_pipes_in_forked_child"] = transientMax
	res.Evidence["transient_processes_with_parent_pipes"] = transientProcs
	if transientRole != "" {
		res.Evidence["transient_holder"] = transientRole
	}
	switch {
	case detections > 0:
		res.Outcome = "reproduced"
	case startFailures == attempt:
		res.Outcome = "error"
		res.Evidence["reason"] = "the container never started"
	default:
		res.Outcome = "not-reproduced"
	}
}
