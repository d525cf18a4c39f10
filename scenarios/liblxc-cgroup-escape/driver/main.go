// repro: drives the liblxc cgroup-escape scenario and prints the verdict.
//
// It creates its own cgroup in every mounted hierarchy, moves itself there,
// and runs one of the prebuilt programs, which inherit that cgroup:
//
//	--mode c --build plain|liblxc|model
//	    showcg-<build> prints its /proc/self/cgroup. A hierarchy whose line
//	    reads "/" instead of the driver's cgroup was escaped.
//	--mode libcontainer --builds plain,liblxc,model --runs N [--all]
//	    ctr-<build> starts a libcontainer container (Parent "system", Name
//	    "test-container") that prints its /proc/self/cgroup, and the cgroups
//	    libcontainer placed it in; a run escaped when, in a hierarchy
//	    libcontainer manages, the container is above its place (placement.go).
//
// Why sub-cgroups: the container runs in a private cgroup namespace, whose
// root is shown as "/". A process that starts at the namespace root looks
// the same before and after an escape, so the driver first moves itself one
// level down; "moved to /" then means "moved to the namespace root".
//
// Standard library only, Go 1.15 compatible (io/ioutil), built without cgo so
// the driver itself never loads liblxc or the model.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const base = "/opt/reprolab"

// Why the libcontainer model variants need cgroup v1 while the real builds run on v2 too.
const v2ModelSkip = "needs cgroup v1: the model stands for cgm_escape, which asked cgmanager to move " +
	"the caller to / in each v1 hierarchy (liblxc 1.x/2.x; cgmanager only ever managed cgroup v1); on a " +
	"v2-only host there is nothing it modelled (the real libcontainer builds do run on v2)"

// libcontainerSkip says why a libcontainer run cannot be judged here, or "":
// the real builds run on v1 and v2 (libcontainer's fs2 manager, runc >=
// 1.0.0-rc91), the model builds only where a v1 hierarchy is mounted.
func libcontainerSkip(v1Hierarchies int, builds []string) string {
	if v1Hierarchies > 0 {
		return ""
	}
	for _, b := range builds {
		if strings.TrimSpace(b) == "model" {
			return v2ModelSkip
		}
	}
	return ""
}

// hierarchy is one mounted cgroup hierarchy (v1 controller set or cgroup2).
type hierarchy struct {
	Mount       string   // mount point, e.g. /sys/fs/cgroup/memory
	Version     int      // 1 or 2
	Controllers []string // v1: from the super options (cpu, name=systemd); v2: none
	Key         string   // the controller field of /proc/self/cgroup lines it matches
}

type verdict struct {
	Outcome  string                 `json:"outcome"`
	Attempts int                    `json:"attempts"`
	Evidence map[string]interface{} `json:"evidence"`
	Versions map[string]string      `json:"versions"`
}

var versions = map[string]string{}

func finish(v verdict) {
	v.Versions = versions
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"outcome": "error", "attempts": 0, "evidence": {"reason": "cannot encode verdict"}, "versions": {}}`)
	}
	fmt.Println("REPROLAB-RESULT " + string(b))
	os.Exit(0)
}

func fail(outcome, reason string, attempts int) {
	finish(verdict{Outcome: outcome, Attempts: attempts, Evidence: map[string]interface{}{"reason": reason}})
}

func loadVersions() {
	if b, err := ioutil.ReadFile(filepath.Join(base, "versions.json")); err == nil {
		_ = json.Unmarshal(b, &versions)
	}
	if b, err := ioutil.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		versions["kernel"] = strings.TrimSpace(string(b))
	}
}

// v1 super options that are not controller names.
var notController = map[string]bool{
	"rw": true, "ro": true, "noprefix": true, "clone_children": true, "xattr": true,
	"cpuset_v2_mode": true, "favordynmods": true, "none": true,
}

// hierarchies lists cgroup mounts of a hierarchy's root ("/" in mountinfo's
// root field); bind mounts of sub-cgroups and repeated mounts are skipped.
func hierarchies() ([]hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []hierarchy
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " - ", 2)
		if len(parts) != 2 {
			continue
		}
		pre, post := strings.Fields(parts[0]), strings.Fields(parts[1])
		if len(pre) < 5 || len(post) < 3 || pre[3] != "/" {
			continue
		}
		h := hierarchy{Mount: pre[4]}
		switch post[0] {
		case "cgroup2":
			h.Version = 2
		case "cgroup":
			h.Version = 1
			for _, o := range strings.Split(post[2], ",") {
				if !notController[o] && !strings.HasPrefix(o, "release_agent=") {
					h.Controllers = append(h.Controllers, o)
				}
			}
			sort.Strings(h.Controllers)
		default:
			continue
		}
		h.Key = strings.Join(h.Controllers, ",")
		if seen[h.Key] {
			continue
		}
		seen[h.Key] = true
		hs = append(hs, h)
	}
	return hs, sc.Err()
}

// parseCgroup maps a /proc/<pid>/cgroup text to controller-key -> path,
// with v1 keys normalised to sorted controller lists.
func parseCgroup(text string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.SplitN(strings.TrimSpace(l), ":", 3)
		if len(f) != 3 {
			continue
		}
		if _, err := strconv.Atoi(f[0]); err != nil {
			continue
		}
		ctrls := strings.Split(f[1], ",")
		if f[1] == "" {
			ctrls = nil
		}
		sort.Strings(ctrls)
		m[strings.Join(ctrls, ",")] = f[2]
	}
	return m
}

func label(h hierarchy) string {
	if h.Version == 2 {
		return "unified"
	}
	return h.Key
}

// pick keeps only the mounted hierarchies of a parsed /proc/self/cgroup.
func pick(hs []hierarchy, m map[string]string) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		if p, ok := m[h.Key]; ok {
			out[label(h)] = p
		}
	}
	return out
}

func selfCgroup(hs []hierarchy) map[string]string {
	b, err := ioutil.ReadFile("/proc/self/cgroup")
	if err != nil {
		return map[string]string{}
	}
	return pick(hs, parseCgroup(string(b)))
}

// copyIfEmpty gives a new v1 cpuset cgroup its parent's cpus/mems; without
// them no task can join it (ENOSPC).
func copyIfEmpty(dir, parent, file string) {
	cur, _ := ioutil.ReadFile(filepath.Join(dir, file))
	if strings.TrimSpace(string(cur)) != "" {
		return
	}
	val, err := ioutil.ReadFile(filepath.Join(parent, file))
	if err == nil {
		_ = ioutil.WriteFile(filepath.Join(dir, file), val, 0644)
	}
}

func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// enter creates <mount>/<name> in every hierarchy and moves this process
// (all its threads: cgroup.procs) there.
func enter(hs []hierarchy, name string) (skip string, err error) {
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, h := range hs {
		dir := filepath.Join(h.Mount, name)
		if err := os.Mkdir(dir, 0755); err != nil && !os.IsExist(err) {
			if isReadOnly(err) {
				return fmt.Sprintf("cannot create a cgroup in %s (%v): the scenario needs writable cgroup mounts", h.Mount, err), nil
			}
			return "", err
		}
		for _, c := range h.Controllers {
			if c == "cpuset" {
				copyIfEmpty(dir, h.Mount, "cpuset.cpus")
				copyIfEmpty(dir, h.Mount, "cpuset.mems")
			}
		}
		if err := ioutil.WriteFile(filepath.Join(dir, "cgroup.procs"), pid, 0644); err != nil {
			return "", fmt.Errorf("move into %s: %v", dir, err)
		}
		if h.Version == 2 {
			// "No internal processes": libcontainer (fs2) enables controllers in
			// the subtree_control of every cgroup above the container, here the
			// namespace root, which only works once no process is left in it
			// (the root of a cgroup namespace is not exempt; only the real root
			// is). Anything else there (an entry shell under compose) joins us.
			if procs, err := ioutil.ReadFile(filepath.Join(h.Mount, "cgroup.procs")); err == nil {
				for _, p := range strings.Fields(string(procs)) {
					_ = ioutil.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(p), 0644)
				}
			}
		}
	}
	return "", nil
}

// leave moves back to each hierarchy's root and removes what was created
// (best effort: the container is thrown away anyway).
func leave(hs []hierarchy, dirs []string) {
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, h := range hs {
		_ = ioutil.WriteFile(filepath.Join(h.Mount, "cgroup.procs"), pid, 0644)
		for _, d := range dirs {
			_ = os.Remove(filepath.Join(h.Mount, d))
		}
	}
}

// runBounded runs a program with stdout/stderr in temp files (no pipe can
// keep us waiting for EOF) and kills its process group after the timeout.
func runBounded(timeout time.Duration, name string, args ...string) (stdout, stderr string, err error) {
	outF, err := ioutil.TempFile("", "out")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := ioutil.TempFile("", "err")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(errF.Name())
	defer errF.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = outF, errF
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	timer := time.AfterFunc(timeout, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	werr := cmd.Wait()
	if !timer.Stop() {
		werr = fmt.Errorf("timed out after %s", timeout)
	}
	o, _ := ioutil.ReadFile(outF.Name())
	e, _ := ioutil.ReadFile(errF.Name())
	return string(o), string(e), werr
}

// mapped returns the "mapped: " lines (shared objects of interest).
func mapped(out string) []string {
	libs := []string{}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "mapped: ") {
			libs = append(libs, strings.TrimSpace(strings.TrimPrefix(l, "mapped: ")))
		}
	}
	return libs
}

// loadedCheck says whether the build's library really was loaded.
func loadedCheck(build string, libs []string) (bool, string) {
	want := map[string]string{"liblxc": "liblxc", "model": "libcgmescape"}[build]
	if want == "" {
		return true, ""
	}
	for _, l := range libs {
		if strings.Contains(filepath.Base(l), want) {
			return true, want
		}
	}
	return false, want
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func main() {
	mode := flag.String("mode", "c", "c | libcontainer")
	build := flag.String("build", "plain", "c mode: plain | liblxc | model")
	builds := flag.String("builds", "plain,liblxc", "libcontainer mode: comma-separated builds")
	runs := flag.Int("runs", 4, "libcontainer mode: runs per build")
	all := flag.Bool("all", false, "libcontainer mode: run all runs of every build even after a detection")
	once := flag.Bool("once", false, "model escapes only in the first exec of a chain (runc before 1.0.0-rc7)")
	flag.Parse()
	loadVersions()
	defer func() {
		if r := recover(); r != nil {
			fail("error", fmt.Sprintf("driver panic: %v", r), 0)
		}
	}()

	if os.Geteuid() != 0 {
		fail("skipped", "must run as root: cgm_escape acted only for root", 0)
	}
	hs, err := hierarchies()
	if err != nil {
		fail("error", "read mountinfo: "+err.Error(), 0)
	}
	layout, v1 := "none", 0
	for _, h := range hs {
		if h.Version == 1 {
			v1++
		}
	}
	switch {
	case v1 > 0 && len(hs) > v1:
		layout = "hybrid"
	case v1 > 0:
		layout = "v1"
	case len(hs) > 0:
		layout = "v2"
	}
	fmt.Printf("cgroup layout seen inside: %s (%d hierarchies mounted)\n", layout, len(hs))
	if len(hs) == 0 {
		fail("skipped", "no cgroup hierarchy is mounted in the container", 0)
	}
	if *mode == "libcontainer" {
		if reason := libcontainerSkip(v1, strings.Split(*builds, ",")); reason != "" {
			fail("skipped", reason, 0)
		}
	}

	// The model library checks this file (see cgmescape.c).
	const onceFlag = "/run/reprolab-cgm-escape-once"
	_ = os.Remove(onceFlag)
	if *once {
		if err := ioutil.WriteFile(onceFlag, nil, 0644); err != nil {
			fail("error", "create "+onceFlag+": "+err.Error(), 0)
		}
		fmt.Println("model acts once per exec chain (no escape in the memfd re-exec of runc's init)")
	}

	name := fmt.Sprintf("reprolab-escape-%d", os.Getpid())
	skip, err := enter(hs, name)
	if skip != "" {
		leave(hs, []string{name})
		fail("skipped", skip, 0)
	}
	if err != nil {
		leave(hs, []string{name})
		fail("error", "create/enter cgroups: "+err.Error(), 0)
	}
	before := selfCgroup(hs)
	fmt.Printf("driver moved itself to /%s in every hierarchy:\n", name)
	for _, k := range sortedKeys(before) {
		fmt.Printf("  before %s:%s\n", k, before[k])
	}

	var v verdict
	switch *mode {
	case "c":
		v = modeC(hs, *build, before, layout)
	case "libcontainer":
		v = modeLibcontainer(hs, strings.Split(*builds, ","), *runs, *all, *once, before, layout, name)
	default:
		v = verdict{Outcome: "error", Evidence: map[string]interface{}{"reason": "unknown --mode " + *mode}}
	}
	leave(hs, []string{filepath.Join(name, "system"), name, "system"})
	finish(v)
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// compact renders controller -> path as "ctrl:path" strings for evidence.
func compact(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+":"+m[k])
	}
	return out
}

func modeC(hs []hierarchy, build string, before map[string]string, layout string) verdict {
	bin := filepath.Join(base, "bin", "showcg-"+build)
	fmt.Printf("running %s (build %q) from the driver's cgroup\n", bin, build)
	t0 := time.Now()
	out, errOut, err := runBounded(30*time.Second, bin)
	ms := time.Since(t0).Milliseconds()
	fmt.Print(out)
	if errOut != "" {
		fmt.Print(errOut)
	}
	if err != nil {
		return verdict{Outcome: "error", Attempts: 1, Evidence: map[string]interface{}{
			"reason": fmt.Sprintf("%s: %v", bin, err), "stderr": tail(errOut, 400)}}
	}
	libs := mapped(out)
	if ok, want := loadedCheck(build, libs); !ok {
		return verdict{Outcome: "error", Attempts: 1, Evidence: map[string]interface{}{
			"reason": want + " is not mapped into the linked program: the link was dropped"}}
	}
	after := pick(hs, parseCgroup(out))
	escaped, stayed, other := []string{}, []string{}, []string{}
	for _, k := range sortedKeys(before) {
		switch a := after[k]; {
		case a == before[k]:
			stayed = append(stayed, k)
		case a == "/":
			escaped = append(escaped, k)
		default:
			other = append(other, k+":"+a)
		}
	}
	outcome := "not-reproduced"
	if len(escaped) > 0 {
		outcome = "reproduced"
	}
	fmt.Printf("%d of %d hierarchies moved to the namespace root; %d stayed\n", len(escaped), len(before), len(stayed))
	ev := map[string]interface{}{
		"build":        build,
		"layout":       layout,
		"hierarchies":  len(before),
		"escaped":      len(escaped),
		"stayed":       len(stayed),
		"escaped_list": escaped,
		"before":       compact(before),
		"after":        compact(after),
		"mapped":       libs,
		"elapsed_ms":   ms,
		"rule":         "reproduced when the program, started in the driver's sub-cgroup, reports / (the cgroup namespace root) for at least one mounted hierarchy",
	}
	if len(other) > 0 {
		ev["moved_elsewhere"] = other
	}
	return verdict{Outcome: outcome, Attempts: 1, Evidence: ev}
}

type ctrRun struct {
	self, ctr map[string]string
	managed   []managedPath
	libs      []string
	err       string
}

func runCtr(hs []hierarchy, build string, n int) ctrRun {
	bin := filepath.Join(base, "bin", "ctr-"+build)
	state := filepath.Join("/run/reprolab-ctr", build)
	id := fmt.Sprintf("%s-%d-%d", build, os.Getpid(), n)
	out, errOut, err := runBounded(60*time.Second, bin, filepath.Join(base, "rootfs"), state, id)
	var selfText, ctrText []string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "self "):
			selfText = append(selfText, strings.TrimPrefix(l, "self "))
		case strings.HasPrefix(l, "mapped: "), strings.HasPrefix(l, "managed "):
		default:
			ctrText = append(ctrText, l)
		}
	}
	r := ctrRun{
		self:    pick(hs, parseCgroup(strings.Join(selfText, "\n"))),
		ctr:     pick(hs, parseCgroup(strings.Join(ctrText, "\n"))),
		managed: parseManaged(out),
		libs:    mapped(out),
	}
	if err != nil {
		r.err = fmt.Sprintf("%v: %s", err, tail(errOut, 300))
	} else if len(r.ctr) == 0 {
		r.err = "container printed no cgroup lines: " + tail(errOut, 300)
	}
	return r
}

func modeLibcontainer(hs []hierarchy, builds []string, runs int, all, once bool, before map[string]string, layout, name string) verdict {
	if runs < 1 {
		runs = 1
	}
	perBuild := map[string]interface{}{}
	attempts, detected, errorsSeen := 0, false, 0
	var firstDetectMs int64 = -1
	var firstErr string
	unmanagedSeen := map[string]bool{}
	t0 := time.Now()
	for _, build := range builds {
		build = strings.TrimSpace(build)
		if build == "" {
			continue
		}
		k, errs, parentEscaped, done := 0, 0, 0, 0
		var example, placedExample map[string]interface{}
		perRun := []int{} // managed controllers moved towards the root, per judged run
		libs := []string{}
		unmanaged := []string{}
		for n := 1; n <= runs; n++ {
			if detected && !all {
				break
			}
			attempts++
			done++
			r := runCtr(hs, build, n)
			libs = r.libs
			fmt.Printf("[%s run %d]\n", build, n)
			for _, kk := range sortedKeys(r.self) {
				fmt.Printf("  ctr itself  %s:%s\n", kk, r.self[kk])
			}
			for _, kk := range sortedKeys(r.ctr) {
				fmt.Printf("  container   %s:%s\n", kk, r.ctr[kk])
			}
			// The model escapes in ctr itself too; libcontainer then builds
			// the container's cgroup under wherever ctr is now.
			for kk, p := range r.self {
				if p != before[kk] {
					parentEscaped++
					break
				}
			}
			runErr := r.err
			if runErr == "" {
				if ok, want := loadedCheck(build, r.libs); !ok {
					runErr = want + " is not mapped into ctr: the link was dropped"
				}
			}
			placed, problems := placedPaths(hs, r.managed)
			for _, p := range problems {
				fmt.Printf("  libcontainer path not judged: %s\n", p)
			}
			var j judgement
			if runErr == "" {
				if len(placed) == 0 {
					runErr = "libcontainer reported no cgroup it placed the container in"
				} else {
					j = judge(placed, r.ctr)
					switch {
					case len(j.Missing) > 0:
						runErr = "no line in the container's /proc/self/cgroup for managed " + strings.Join(j.Missing, ",")
					case len(j.Escaped) == 0 && len(j.Misplaced) > 0:
						runErr = "container neither where libcontainer placed it nor above it: " + strings.Join(j.Misplaced, " ")
					}
				}
			}
			if runErr != "" {
				errs++
				errorsSeen++
				if firstErr == "" {
					firstErr = build + ": " + runErr
				}
				fmt.Printf("  error: %s\n", runErr)
				continue
			}
			if placedExample == nil {
				placedExample = map[string]interface{}{"placed": compact(placed)}
				if len(problems) > 0 {
					placedExample["not_judged"] = problems
				}
			}
			unmanaged = append([]string{}, j.Unmanaged...)
			for _, u := range j.Unmanaged {
				unmanagedSeen[strings.SplitN(u, ":", 2)[0]] = true
			}
			for _, u := range j.Unmanaged {
				fmt.Printf("  not managed by this libcontainer (not judged): %s\n", u)
			}
			perRun = append(perRun, len(j.Escaped))
			if len(j.Escaped) > 0 {
				k++
				if !detected {
					detected = true
					firstDetectMs = time.Since(t0).Milliseconds()
				}
				fmt.Printf("  ESCAPED: %d of %d managed controllers above where libcontainer placed the container (%d at /)\n",
					len(j.Escaped), len(placed), len(j.AtRoot))
				if example == nil {
					example = map[string]interface{}{
						"run": n, "ctr_self": compact(r.self), "container": compact(r.ctr),
						"escaped": j.Escaped, "at_root": len(j.AtRoot),
					}
					if len(j.Misplaced) > 0 {
						example["misplaced"] = j.Misplaced
					}
				}
			} else {
				fmt.Printf("  ok: every managed controller where libcontainer placed the container\n")
			}
		}
		entry := map[string]interface{}{
			"escaped_runs": k, "runs": done, "rate": fmt.Sprintf("%d/%d", k, done),
			"errors": errs, "ctr_escaped_itself": parentEscaped, "mapped": libs,
			"escaped_controllers_per_run": perRun,
			"unmanaged_last_run":          unmanaged,
		}
		if placedExample != nil {
			entry["libcontainer_placed_first_run"] = placedExample
		}
		if example != nil {
			entry["first_escape"] = example
		}
		perBuild[build] = entry
	}
	unmanagedList := []string{}
	for u := range unmanagedSeen {
		unmanagedList = append(unmanagedList, u)
	}
	sort.Strings(unmanagedList)
	v1 := 0
	for _, h := range hs {
		if h.Version == 1 {
			v1++
		}
	}
	ev := map[string]interface{}{
		"layout":                layout,
		"driver_cgroup":         "/" + name,
		"before":                compact(before),
		"builds":                perBuild,
		"v1_controllers":        v1,
		"hierarchies":           len(hs),
		"unmanaged_hierarchies": unmanagedList,
		"time_to_detect_ms":     firstDetectMs,
		"model_once":            once,
		"rule":                  "a run escaped when, in a hierarchy where libcontainer placed the container (its own cgroup paths, directory present), the container's process is in a proper ancestor of that place (towards the root); hierarchies libcontainer does not manage are listed, never counted; reproduced when at least one run of the listed builds escaped",
	}
	outcome := "not-reproduced"
	switch {
	case detected:
		outcome = "reproduced"
	case errorsSeen > 0:
		outcome = "error"
		ev["reason"] = firstErr
	}
	return verdict{Outcome: outcome, Attempts: attempts, Evidence: ev}
}
