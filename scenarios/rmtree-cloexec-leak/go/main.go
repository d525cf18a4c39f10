// Command repro-go reproduces golang/go#33405: while os.RemoveAll removes a deep directory tree,
// children that the same process forks and execs concurrently inherit the directory fds that
// Go 1.12.0-1.12.8 opened without O_CLOEXEC.
//
// One goroutine builds trees of deep chains on a tmpfs and removes them, in a loop; many
// goroutines exec `ls -al /proc/self/fd` (the original's detector) and look for fd targets under
// the tree's root. Mode "removeall" uses the toolchain's real os.RemoveAll; mode
// "openat-no-cloexec" uses removeAll112 below, a model of Go 1.12's removeall_at.go.
//
// The file must build with Go 1.12 in GOPATH mode (the golang:1.12.x variants) as well as with
// Debian's 1.15, 1.19 and 1.24: standard library only, io/ioutil, no errors.Is, no %w.
package main

import (
	"context"
	"encoding/json"
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const tmpfsMagic = 0x01021994

type config struct {
	mode     string
	dir      string
	depth    int
	chains   int
	spawners int
	seconds  float64
	maxTrees int
	rates    bool
}

type verdict struct {
	Outcome  string                 `json:"outcome"`
	Attempts int                    `json:"attempts"`
	Evidence map[string]interface{} `json:"evidence"`
	Versions map[string]string      `json:"versions"`
}

var versions = map[string]string{}

func emit(outcome string, attempts int, evidence map[string]interface{}) {
	b, err := json.Marshal(verdict{outcome, attempts, evidence, versions})
	if err != nil {
		b = []byte(`{"outcome": "error", "attempts": 0, "evidence": {"reason": "cannot encode verdict"}, "versions": {}}`)
	}
	os.Stdout.Sync()
	fmt.Printf("REPROLAB-RESULT %s\n", b)
}

func fail(format string, args ...interface{}) {
	emit("error", 0, map[string]interface{}{"reason": fmt.Sprintf(format, args...)})
	os.Exit(1)
}

func main() {
	defer func() {
		if r := recover(); r != nil {
			fail("panic: %v", r)
		}
	}()
	versions["go"] = runtime.Version()
	versions["kernel"] = readTrim("/proc/sys/kernel/osrelease")
	versions["os"] = osRelease()

	var cfg config
	fs := flag.NewFlagSet("repro-go", flag.ContinueOnError)
	fs.StringVar(&cfg.mode, "mode", "removeall", "removeall (the toolchain's os.RemoveAll) or openat-no-cloexec (model of Go 1.12)")
	fs.StringVar(&cfg.dir, "dir", "/dev/shm", "where the trees live (a tmpfs)")
	fs.IntVar(&cfg.depth, "depth", 150, "levels of each chain")
	fs.IntVar(&cfg.chains, "chains", 4, "chains per tree")
	fs.IntVar(&cfg.spawners, "spawners", 100, "goroutines that exec children")
	fs.Float64Var(&cfg.seconds, "seconds", 10, "time bound of the race")
	fs.IntVar(&cfg.maxTrees, "max-trees", 100000, "bound on trees built and removed (the attempts)")
	fs.BoolVar(&cfg.rates, "rates", false, "run the whole bound instead of stopping at the first leak")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fail("bad arguments: %v", err)
	}
	var remove func(string) error
	var remover string
	switch cfg.mode {
	case "removeall":
		remove, remover = os.RemoveAll, "os.RemoveAll of "+runtime.Version()
	case "openat-no-cloexec":
		remove, remover = removeAll112, "model of Go 1.12 os.RemoveAll (openFdAt without O_CLOEXEC)"
	default:
		fail("unknown --mode %q", cfg.mode)
	}
	if cfg.depth < 1 || cfg.chains < 1 || cfg.spawners < 1 || cfg.seconds <= 0 || cfg.maxTrees < 1 {
		fail("depth, chains, spawners, seconds and max-trees must be positive")
	}
	// Whatever happens below, the process ends with a verdict within the bound.
	go func() {
		time.Sleep(time.Duration(cfg.seconds*float64(time.Second)) + 60*time.Second)
		fail("watchdog: the race did not end within %.0f s", cfg.seconds+60)
	}()
	run(cfg, remove, remover)
}

func run(cfg config, remove func(string) error, remover string) {
	lsPath, err := exec.LookPath("ls")
	if err != nil {
		emit("skipped", 0, map[string]interface{}{"reason": "no ls to list /proc/self/fd in children"})
		return
	}
	fsName, err := fsType(cfg.dir)
	if err != nil {
		fail("tree directory %s: %v", cfg.dir, err)
	}
	root := filepath.Join(cfg.dir, fmt.Sprintf("reprolab-rmtree-%d", os.Getpid()))
	if err := os.MkdirAll(root, 0755); err != nil {
		fail("mkdir %s: %v", root, err)
	}
	defer os.RemoveAll(root)
	prefix := root + "/"
	fmt.Printf("rmtree-cloexec-leak: %s; trees of %d chains x %d levels under %s (%s); %d spawners exec %s -al /proc/self/fd\n",
		remover, cfg.chains, cfg.depth, root, fsName, cfg.spawners, lsPath)

	if err := selfTest(lsPath, root+".canary"); err != nil {
		fail("detector self-test: %v", err)
	}
	fmt.Println("detector self-test: a child saw a deliberately inherited fd")

	var (
		mu          sync.Mutex
		stop        int32
		removing    int32 // 1 while the remover is inside remove(): the window that can leak
		overlapped  int
		trees       int
		children    int
		failed      int
		leakKids    int
		leakedFds   int
		maxPerChild int
		first       map[string]interface{}
		ttd         int64 = -1
		leakTrees         = map[string]bool{}
		removeErr   error
	)
	// The first tree is built before the clock starts, so time-to-detect measures the race, not
	// how long a loaded scheduler takes to make 600 directories.
	if err := buildTree(filepath.Join(root, "t00000"), cfg.chains, cfg.depth); err != nil {
		fail("%v", err)
	}
	start := time.Now()
	deadline := start.Add(time.Duration(cfg.seconds * float64(time.Second)))
	stopped := func() bool { return atomic.LoadInt32(&stop) != 0 || time.Now().After(deadline) }

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the remover: build a tree, remove it, again
		defer wg.Done()
		defer atomic.StoreInt32(&stop, 1)
		for i := 0; i < cfg.maxTrees && !stopped(); i++ {
			tree := filepath.Join(root, fmt.Sprintf("t%05d", i))
			if i > 0 { // the first tree was built before the race started
				if err := buildTree(tree, cfg.chains, cfg.depth); err != nil {
					removeErr = err
					return
				}
			}
			atomic.StoreInt32(&removing, 1)
			err := remove(tree)
			atomic.StoreInt32(&removing, 0)
			if err != nil {
				removeErr = fmt.Errorf("remove %s: %v", tree, err)
				return
			}
			if _, err := os.Lstat(tree); err == nil {
				removeErr = fmt.Errorf("remove left %s behind", tree)
				return
			}
			mu.Lock()
			trees++
			mu.Unlock()
		}
	}()
	for s := 0; s < cfg.spawners; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				during := atomic.LoadInt32(&removing) != 0
				out, err := listFds(lsPath)
				leaks := leakedTargets(out, prefix)
				mu.Lock()
				children++
				if during {
					overlapped++
				}
				if err != nil && len(out) == 0 {
					failed++
				}
				if len(leaks) > 0 {
					leakKids++
					leakedFds += len(leaks)
					if len(leaks) > maxPerChild {
						maxPerChild = len(leaks)
					}
					for _, l := range leaks {
						t := strings.SplitN(l.target[len(prefix):], "/", 2)[0]
						leakTrees[strings.TrimSuffix(t, " (deleted)")] = true
					}
					if first == nil {
						ttd = int64(time.Since(start) / time.Millisecond)
						first = map[string]interface{}{"fd": l0(leaks).fd, "path": shorten(l0(leaks).target, prefix),
							"below_root": strings.Count(l0(leaks).target[len(prefix):], "/") + 1, "fds_in_child": len(leaks)}
						fmt.Printf("leak: after %d ms a child held %d fds under the tree, e.g. fd %s -> %s\n",
							ttd, len(leaks), l0(leaks).fd, shorten(l0(leaks).target, prefix))
						if !cfg.rates {
							atomic.StoreInt32(&stop, 1)
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := os.RemoveAll(root); err != nil {
		fail("cleanup of %s: %v", root, err)
	}
	if removeErr != nil {
		fail("%v", removeErr)
	}
	if children == 0 || failed == children {
		fail("no child listed its fds (%d spawned, %d failed)", children, failed)
	}
	share := float64(leakKids) / float64(children)
	fmt.Printf("%d trees removed, %d children, %d saw leaked fds (%.2f%%), %d leaked fds in all, %.1f s\n",
		trees, children, leakKids, 100*share, leakedFds, elapsed.Seconds())
	evidence := map[string]interface{}{
		"remover":                 remover,
		"detector":                "children exec 'ls -al /proc/self/fd'; a leak is a target under the tree root",
		"detector_selftest":       "ok",
		"tree":                    map[string]interface{}{"depth": cfg.depth, "chains": cfg.chains, "dirs": cfg.depth * cfg.chains, "dir": cfg.dir, "fs": fsName},
		"trees_removed":           trees,
		"trees_with_leak":         len(leakTrees),
		"spawners":                cfg.spawners,
		"children":                children,
		"children_while_removing": overlapped,
		"children_failed":         failed,
		"children_with_leak":      leakKids,
		"leak_share":              round4(share),
		"leaked_fds":              leakedFds,
		"leaked_fds_max_in_child": maxPerChild,
		"elapsed_ms":              int64(elapsed / time.Millisecond),
		"stop_at_first_leak":      !cfg.rates,
	}
	if first != nil {
		evidence["first_leak"] = first
		evidence["time_to_detect_ms"] = ttd
		emit("reproduced", trees, evidence)
		return
	}
	emit("not-reproduced", trees, evidence)
}

// buildTree makes tree/c<i>/d001/.../d<depth> with path-based mkdir (no fd is held open), one
// mkdir per directory.
func buildTree(tree string, chains, depth int) error {
	if err := os.Mkdir(tree, 0755); err != nil {
		return fmt.Errorf("build %s: %v", tree, err)
	}
	for c := 0; c < chains; c++ {
		path := fmt.Sprintf("%s/c%d", tree, c)
		for d := 0; d <= depth; d++ {
			if d > 0 {
				path += fmt.Sprintf("/d%03d", d)
			}
			if err := os.Mkdir(path, 0755); err != nil {
				return fmt.Errorf("build %s: %v", tree, err)
			}
		}
	}
	return nil
}

// listFds execs ls in a child, which inherits every fd of this process not marked close-on-exec.
func listFds(ls string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, ls, "-al", "/proc/self/fd").Output()
}

type fdTarget struct{ fd, target string }

func l0(l []fdTarget) fdTarget { return l[0] }

// leakedTargets parses `ls -al /proc/self/fd` ("... 7 -> /dev/shm/...") for targets under prefix.
func leakedTargets(out []byte, prefix string) []fdTarget {
	var leaks []fdTarget
	for _, line := range strings.Split(string(out), "\n") {
		i := strings.Index(line, " -> ")
		if i < 0 {
			continue
		}
		target := line[i+4:]
		if !strings.HasPrefix(target, prefix) {
			continue
		}
		left := strings.Fields(line[:i])
		fd := ""
		if len(left) > 0 {
			fd = left[len(left)-1]
		}
		leaks = append(leaks, fdTarget{fd, target})
	}
	return leaks
}

// selfTest proves the detector sees inherited fds: a child must report a canary opened without
// O_CLOEXEC (outside the tree root, so it never counts as a leak).
func selfTest(ls, canary string) error {
	if err := ioutil.WriteFile(canary, []byte("canary\n"), 0644); err != nil {
		return err
	}
	defer os.Remove(canary)
	fd, err := syscall.Open(canary, syscall.O_RDONLY, 0)
	if err != nil {
		return err
	}
	out, err := listFds(ls)
	syscall.Close(fd)
	if err != nil {
		return fmt.Errorf("ls: %v", err)
	}
	if !strings.Contains(string(out), " "+strconv.Itoa(fd)+" -> "+canary) {
		return fmt.Errorf("the child did not list fd %d -> %s", fd, canary)
	}
	return nil
}

func shorten(target, prefix string) string {
	parts := strings.Split(target[len(prefix):], "/")
	if len(parts) <= 5 {
		return target
	}
	return prefix + strings.Join(parts[:3], "/") + "/.../" + strings.Join(parts[len(parts)-2:], "/")
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

func fsType(dir string) (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", err
	}
	if st.Type == tmpfsMagic {
		return "tmpfs", nil
	}
	return fmt.Sprintf("0x%x", st.Type), nil
}

func readTrim(path string) string {
	b, err := ioutil.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osRelease() string {
	for _, line := range strings.Split(readTrim("/etc/os-release"), "\n") {
		if strings.HasPrefix(line, "PRETTY_NAME=") {
			return strings.Trim(line[len("PRETTY_NAME="):], `"`)
		}
	}
	return ""
}

// ---- model of os.RemoveAll in Go 1.12.0-1.12.8 (src/os/removeall_at.go, linux) ----
//
// Written from the 1.12 release branch's structure: removeAllFrom unlinks an entry, and for a
// directory opens it with openFdAt, reads up to 1024 names, recurses into each while keeping the
// directory open, closes it, and finally removes the directory. openFdAt called Openat with
// O_RDONLY only: no O_CLOEXEC (golang/go#33405, fixed in 1.12.9 and 1.13 by adding it). At the
// bottom of a chain of depth N, N such fds are open at once.

func removeAll112(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err == nil || os.IsNotExist(err) {
		return nil
	}
	parentDir, base := filepath.Split(filepath.Clean(path))
	if parentDir == "" {
		parentDir = "."
	}
	parent, err := os.Open(parentDir) // os.Open sets O_CLOEXEC: only openFdAt missed it
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	return removeAllFrom112(parent, base, filepath.Join(parentDir, base))
}

func removeAllFrom112(parent *os.File, name, full string) error {
	parentFd := int(parent.Fd())
	err := unlinkat(parentFd, name, 0)
	if err == nil || err == syscall.ENOENT {
		return nil
	}
	if err != syscall.EISDIR && err != syscall.EPERM && err != syscall.EACCES {
		return &os.PathError{Op: "unlinkat", Path: full, Err: err}
	}
	// 1.12 uses fstatat(parentFd, name, AT_SYMLINK_NOFOLLOW); lstat of the full path is the
	// same question without an arch-specific syscall number.
	var st syscall.Stat_t
	if statErr := syscall.Lstat(full, &st); statErr != nil {
		if statErr == syscall.ENOENT {
			return nil
		}
		return statErr
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return err
	}
	var recurseErr error
	for {
		const request = 1024
		file, err := openFdAt112(parentFd, name)
		if err != nil {
			if err == syscall.ENOENT {
				return nil
			}
			recurseErr = err
			break
		}
		names, readErr := file.Readdirnames(request)
		if readErr != nil && readErr != io.EOF {
			file.Close()
			return &os.PathError{Op: "readdirnames", Path: full, Err: readErr}
		}
		for _, n := range names {
			if err := removeAllFrom112(file, n, full+"/"+n); err != nil {
				recurseErr = err
			}
		}
		// Removing entries may reshuffle the directory: close and reopen (golang/go#20841).
		file.Close()
		if len(names) < request {
			break
		}
	}
	if err := unlinkat(parentFd, name, atRemovedir); err != nil && err != syscall.ENOENT {
		if recurseErr != nil {
			return recurseErr
		}
		return &os.PathError{Op: "unlinkat", Path: full, Err: err}
	}
	return nil
}

// openFdAt112 is the buggy helper: Openat(dirfd, name, O_RDONLY) without O_CLOEXEC.
func openFdAt112(dirfd int, name string) (*os.File, error) {
	r, err := syscall.Openat(dirfd, name, syscall.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(r), name), nil
}

const atRemovedir = 0x200 // AT_REMOVEDIR

func unlinkat(dirfd int, name string, flags int) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall(syscall.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags))
	if e != 0 {
		return e
	}
	return nil
}
