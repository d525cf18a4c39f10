package main

// Variants nsenter-constructor and setns-after-runtime.
//
// runc's nsenter package (Debian's golang-github-opencontainers-runc-dev, imported here as is)
// registers a C constructor that runs before the Go runtime starts any thread. With
// _LIBCONTAINER_INITPIPE set it reads a netlink-encoded bootstrap message from that fd, setns()
// into the listed namespaces (still single-threaded, so even the mount namespace can be joined),
// forks into the joined PID namespace and only then lets the Go runtime boot. Without the variable
// it returns at once, so the rest of this program is unaffected.
//
// setns-after-runtime does the same setns(CLONE_NEWNS) from Go, after the runtime started its
// threads: the kernel refuses it with EINVAL (a multithreaded process cannot change mount ns).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"golang.org/x/sys/unix"
)

// Bootstrap message types and attributes of runc's nsexec.c (same values in 1.0.0-rc93 .. 1.1.x).
const (
	initMsg        = 62000
	cloneFlagsAttr = 27281
	nsPathsAttr    = 27282
)

var nativeEndian binary.ByteOrder = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// bootstrapMsg encodes the netlink message nsexec's nl_parse() reads: an nlmsghdr of type
// INIT_MSG followed by attributes (clone flags as uint32, namespace paths as a NUL-ended string).
func bootstrapMsg(cloneFlags uint32, nsPaths string) []byte {
	attr := func(typ uint16, payload []byte) []byte {
		l := 4 + len(payload)
		b := make([]byte, (l+3)&^3)
		nativeEndian.PutUint16(b[0:], uint16(l))
		nativeEndian.PutUint16(b[2:], typ)
		copy(b[4:], payload)
		return b
	}
	flags := make([]byte, 4)
	nativeEndian.PutUint32(flags, cloneFlags)
	body := append(attr(cloneFlagsAttr, flags), attr(nsPathsAttr, append([]byte(nsPaths), 0))...)
	hdr := make([]byte, 16)
	nativeEndian.PutUint32(hdr[0:], uint32(16+len(body)))
	nativeEndian.PutUint16(hdr[4:], initMsg)
	nativeEndian.PutUint16(hdr[6:], syscall.NLM_F_REQUEST)
	return append(hdr, body...)
}

// target is a process in its own UTS, mount, PID and IPC namespaces: the one to join.
type target struct {
	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	rep     map[string]interface{}
	pid     int
	probe   string
	stopped map[string]interface{}
}

const targetFlags = syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC

func startTarget(hostname string) (*target, string, error) {
	probe, err := ioutil.TempDir("", "nsenter-probe-")
	if err != nil {
		return nil, "", err
	}
	cmd := reexecCommand("reprolab-nsenter-target")
	cmd.SysProcAttr.Cloneflags = targetFlags
	cmd.Env = append(os.Environ(), "REPROLAB_CHILD_HOSTNAME="+hostname, "REPROLAB_PROBE_DIR="+probe,
		"REPROLAB_TOKEN="+targetToken())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(probe)
		if isPerm(err) {
			return nil, fmt.Sprintf("clone(CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC) refused: %v (needs CAP_SYS_ADMIN)", err), nil
		}
		return nil, "", fmt.Errorf("start target: %v", err)
	}
	t := &target{cmd: cmd, stdin: in, pid: cmd.Process.Pid, probe: probe}
	rep, _, err := readJSONLine(newLineReader(out), 10*time.Second)
	if err != nil {
		t.stop()
		return nil, "", fmt.Errorf("target report: %v", err)
	}
	t.rep = rep
	return t, "", nil
}

// targetToken is the content of the marker file the target writes on its private tmpfs.
func targetToken() string { return "target-of-" + strconv.Itoa(os.Getpid()) }

// stop closes the target's stdin (it exits on EOF) and reaps it; idempotent. It reports how long
// that took and whether the target had to be killed.
func (t *target) stop() map[string]interface{} {
	if t.stopped != nil {
		return t.stopped
	}
	t0 := time.Now()
	t.stdin.Close()
	err, exited := waitTimeout(t.cmd, 5*time.Second)
	os.RemoveAll(t.probe)
	t.stopped = map[string]interface{}{"ms": float64(time.Since(t0).Microseconds()) / 1000,
		"exited_on_eof": exited, "wait": errString(err)}
	return t.stopped
}

// nsTarget runs as argv[0] "reprolab-nsenter-target": pid 1 of a new PID namespace.
func nsTarget() {
	rep := map[string]interface{}{"pid": os.Getpid()}
	rep["sethostname_err"] = errString(syscall.Sethostname([]byte(os.Getenv("REPROLAB_CHILD_HOSTNAME"))))
	rep["hostname"] = threadHostname()
	for _, ns := range []string{"uts", "mnt", "pid", "ipc"} {
		rep["ns_"+ns] = nsLink("self", ns)
	}
	rep["mount_probe_err"] = mountProbe(os.Getenv("REPROLAB_PROBE_DIR"), os.Getenv("REPROLAB_TOKEN"))
	json.NewEncoder(os.Stdout).Encode(rep)
	// Stay alive (the namespaces live with us) until the parent closes stdin; at most 60 s.
	go func() {
		ioutil.ReadAll(os.Stdin)
		os.Exit(0)
	}()
	time.Sleep(60 * time.Second)
}

// nsenterInit runs as argv[0] "reprolab-nsenter-init": the stage-2 process of runc's nsexec,
// after its constructor joined the target's namespaces; the Go runtime booted only now.
func nsenterInit() {
	fd, err := strconv.Atoi(os.Getenv("_LIBCONTAINER_INITPIPE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsenter-init: no init pipe:", err)
		os.Exit(1)
	}
	pipe := os.NewFile(uintptr(fd), "initpipe")
	rep := map[string]interface{}{"pid": os.Getpid(), "hostname": threadHostname(), "threads_now": threadsOf("self")}
	for _, ns := range []string{"uts", "mnt", "pid", "ipc"} {
		rep["ns_"+ns] = nsLink("self", ns)
	}
	if b, err := ioutil.ReadFile(filepath.Join(os.Getenv("REPROLAB_PROBE_DIR"), "marker")); err == nil {
		rep["probe_marker"] = string(b)
	} else {
		rep["probe_marker_err"] = err.Error()
	}
	json.NewEncoder(pipe).Encode(rep)
}

func nsenterConstructor() (bool, map[string]interface{}, string, error) {
	tgt, skip, err := startTarget("nsenter-target")
	if skip != "" || err != nil {
		return false, nil, skip, err
	}
	defer tgt.stop()
	fmt.Printf("target pid %d (pid %v inside) hostname %v %v %v\n", tgt.pid, tgt.rep["pid"], tgt.rep["hostname"],
		tgt.rep["ns_uts"], tgt.rep["ns_mnt"])

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, nil, "", err
	}
	parentSock, childSock := os.NewFile(uintptr(fds[0]), "init-parent"), os.NewFile(uintptr(fds[1]), "init-child")
	defer parentSock.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		return false, nil, "", err
	}
	defer logR.Close()

	cmd := &exec.Cmd{
		Path: reexecSelf(),
		Args: []string{"reprolab-nsenter-init"},
		// fd 3: init pipe, fd 4: nsexec's log pipe (JSON lines, debug level)
		Env: append(os.Environ(), "_LIBCONTAINER_INITPIPE=3", "_LIBCONTAINER_LOGPIPE=4",
			"_LIBCONTAINER_LOGLEVEL=5", "REPROLAB_PROBE_DIR="+tgt.probe),
		ExtraFiles: []*os.File{childSock, logW},
		Stdout:     os.Stderr,
		Stderr:     os.Stderr,
	}
	if err := cmd.Start(); err != nil {
		childSock.Close()
		logW.Close()
		return false, nil, "", fmt.Errorf("start nsexec: %v", err)
	}
	childSock.Close()
	logW.Close()

	var logMu sync.Mutex
	var logs []string
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		lr := newLineReader(logR)
		for {
			s, err := lr.next(20 * time.Second)
			if err != nil {
				return
			}
			var m map[string]string
			if json.Unmarshal([]byte(s), &m) == nil {
				s = m["msg"]
			}
			logMu.Lock()
			logs = append(logs, strings.TrimSpace(s))
			logMu.Unlock()
		}
	}()

	p := tgt.pid
	nsPaths := fmt.Sprintf("ipc:/proc/%d/ns/ipc,uts:/proc/%d/ns/uts,pid:/proc/%d/ns/pid,mnt:/proc/%d/ns/mnt", p, p, p, p)
	if _, err := parentSock.Write(bootstrapMsg(0, nsPaths)); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return false, nil, "", fmt.Errorf("write bootstrap: %v", err)
	}
	lr := newLineReader(parentSock)
	pids, raw, err := readJSONLine(lr, 10*time.Second)
	stage0Err, _ := waitTimeout(cmd, 10*time.Second)
	ev := map[string]interface{}{"target": tgt.rep, "target_host_pid": tgt.pid, "ns_paths": nsPaths,
		"pid_json": strings.TrimSpace(raw), "stage0_exit": errString(stage0Err)}
	if err != nil {
		select {
		case <-logsDone:
		case <-time.After(5 * time.Second):
		}
		logMu.Lock()
		defer logMu.Unlock()
		ev["nsexec_log"] = tail(logs, 12)
		// nsexec bailed out: its first "failed" log line says why (stage-0 then fails to sync).
		why := "no failure logged"
		for _, l := range logs {
			if strings.Contains(l, "failed") {
				why = l
				break
			}
		}
		if strings.Contains(why, "Operation not permitted") {
			return false, nil, "runc nsexec could not join the target's namespaces: " + why +
				" (setns of a mount namespace needs CAP_SYS_ADMIN and CAP_SYS_CHROOT)", nil
		}
		return false, ev, "", fmt.Errorf("nsexec gave no pid report (%v; stage-0: %v): %s", err, errString(stage0Err), why)
	}
	// runc 1.1: {"stage1_pid":N,"stage2_pid":M}; runc 1.0.0-rc93: {"pid": M, "pid_first": N}
	stage1, stage2 := jsonInt(pids["stage1_pid"]), jsonInt(pids["stage2_pid"])
	if stage2 < 0 {
		stage1, stage2 = jsonInt(pids["pid_first"]), jsonInt(pids["pid"])
	}
	if stage1 > 0 {
		waitPidTimeout(stage1, 5*time.Second) // CLONE_PARENT: our child, not stage-0's
	}
	rep, _, rerr := readJSONLine(lr, 10*time.Second)
	if stage2 > 0 {
		ws, ok := waitPidTimeout(stage2, 5*time.Second)
		ev["stage2_exit"] = fmt.Sprintf("exited=%v status=%d reaped=%v", ws.Exited(), ws.ExitStatus(), ok)
	}
	select {
	case <-logsDone:
	case <-time.After(5 * time.Second):
	}
	logMu.Lock()
	ev["nsexec_log"] = setnsLines(logs)
	logMu.Unlock()
	if rerr != nil {
		return false, ev, "", fmt.Errorf("stage-2 report: %v", rerr)
	}
	ev["stage2"] = rep
	ev["target_stop"] = tgt.stop()
	me := map[string]interface{}{}
	for _, ns := range []string{"uts", "mnt", "pid", "ipc"} {
		me["ns_"+ns] = nsLink("self", ns)
	}
	ev["parent"] = me
	checks := map[string]bool{
		"target_ns_differ_from_parent": tgt.rep["ns_uts"] != me["ns_uts"] && tgt.rep["ns_mnt"] != me["ns_mnt"] && tgt.rep["ns_pid"] != me["ns_pid"],
		"uts_ns_joined":                rep["ns_uts"] == tgt.rep["ns_uts"],
		"mnt_ns_joined":                rep["ns_mnt"] == tgt.rep["ns_mnt"],
		"pid_ns_joined":                rep["ns_pid"] == tgt.rep["ns_pid"],
		"ipc_ns_joined":                rep["ns_ipc"] == tgt.rep["ns_ipc"],
		"hostname_is_targets":          rep["hostname"] == tgt.rep["hostname"] && rep["hostname"] == "nsenter-target",
		"pid_inside_target_ns_small":   jsonInt(rep["pid"]) > 1 && jsonInt(rep["pid"]) < 100,
	}
	if tgt.rep["mount_probe_err"] == "" { // the target's private tmpfs is visible only in its mount ns
		checks["sees_targets_private_mount"] = rep["probe_marker"] == targetToken()
		_, err := os.Stat(filepath.Join(tgt.probe, "marker"))
		checks["targets_mount_hidden_from_parent"] = err != nil
	}
	ev["checks"] = checks
	fmt.Printf("stage-2 (Go runtime started after nsexec's setns): pid %v hostname %v %v %v %v marker %q, %v threads now\n",
		rep["pid"], rep["hostname"], rep["ns_uts"], rep["ns_mnt"], rep["ns_pid"], rep["probe_marker"], rep["threads_now"])
	fmt.Printf("checks %v\n", checks)
	return allTrue(checks), ev, "", nil
}

// setnsLines keeps the nsexec log lines that show the joins (and the last few, for failures).
func setnsLines(logs []string) []string {
	var out []string
	for _, l := range logs {
		if strings.Contains(l, "setns") || strings.Contains(l, "fail") || strings.Contains(l, "bail") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = tail(logs, 8)
	}
	return tail(out, 12)
}

func tail(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func setns(path string, nstype int) error {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return unix.Setns(fd, nstype)
}

func setnsAfterRuntime() (bool, map[string]interface{}, string, error) {
	tgt, skip, err := startTarget("setns-target")
	if skip != "" || err != nil {
		return false, nil, skip, err
	}
	defer tgt.stop()
	ev := map[string]interface{}{"target": tgt.rep}
	res := make(chan map[string]interface{}, 1)
	go func() {
		// This thread may change namespace: never unlock, so the runtime ends it with the goroutine.
		runtime.LockOSThread()
		r := map[string]interface{}{"threads_at_setns": threadsOf("self"), "tid": syscall.Gettid()}
		mntErr := setns(fmt.Sprintf("/proc/%d/ns/mnt", tgt.pid), syscall.CLONE_NEWNS)
		r["setns_mnt_err"] = errString(mntErr)
		r["setns_mnt_errno"] = errnoName(mntErr)
		r["mnt_ns_after"] = nsLink("thread-self", "mnt")
		// Contrast: UTS can be joined by one thread, and then only that thread is in it.
		utsErr := setns(fmt.Sprintf("/proc/%d/ns/uts", tgt.pid), syscall.CLONE_NEWUTS)
		r["setns_uts_errno"] = errnoName(utsErr)
		r["this_thread_hostname"] = threadHostname()
		in, out := 0, 0
		if tasks, err := ioutil.ReadDir("/proc/self/task"); err == nil {
			for _, t := range tasks {
				if nsLink("self/task/"+t.Name(), "uts") == tgt.rep["ns_uts"] {
					in++
				} else {
					out++
				}
			}
		}
		r["threads_in_target_uts"], r["threads_not_in_target_uts"] = in, out
		res <- r
	}()
	var r map[string]interface{}
	select {
	case r = <-res:
	case <-time.After(10 * time.Second):
		return false, ev, "", fmt.Errorf("setns goroutine did not answer within 10 s")
	}
	ev["go_setns"] = r
	ev["main_thread_hostname"] = threadHostname()
	ev["process_mnt_ns"] = nsLink("self", "mnt")
	fmt.Printf("Go process with %v threads: setns(mnt) -> %q; setns(uts) -> %q, that thread's hostname %v, main thread's %v; threads in target UTS %v of %v\n",
		r["threads_at_setns"], r["setns_mnt_err"], r["setns_uts_errno"], r["this_thread_hostname"],
		ev["main_thread_hostname"], r["threads_in_target_uts"], jsonInt(r["threads_in_target_uts"])+jsonInt(r["threads_not_in_target_uts"]))
	switch r["setns_mnt_errno"] {
	case "EINVAL":
		return jsonInt(r["threads_at_setns"]) > 1, ev, "", nil
	case "EPERM":
		return false, nil, "setns(CLONE_NEWNS) refused with EPERM: needs CAP_SYS_ADMIN and CAP_SYS_CHROOT", nil
	case "":
		return false, ev, "", nil // joined: the hazard was not observed
	}
	return false, ev, "", fmt.Errorf("setns(CLONE_NEWNS) failed unexpectedly: %v", r["setns_mnt_err"])
}
