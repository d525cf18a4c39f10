package main

// Variants reexec-namespaces and reexec-deleted: moby's reexec pattern with the child in new UTS,
// PID and mount namespaces, and the same re-exec after the running binary was deleted from disk.

import (
	"encoding/json"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const nsCloneFlags = syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS

// nsChild runs as argv[0] "reprolab-ns-child" inside the new namespaces and reports what it sees.
func nsChild() {
	rep := map[string]interface{}{
		"pid":   os.Getpid(),
		"argv0": os.Args[0],
	}
	rep["exe"], _ = os.Readlink("/proc/self/exe")
	want := os.Getenv("REPROLAB_CHILD_HOSTNAME")
	rep["sethostname_err"] = errString(syscall.Sethostname([]byte(want)))
	rep["hostname"] = threadHostname()
	for _, ns := range []string{"uts", "mnt", "pid"} {
		rep["ns_"+ns] = nsLink("self", ns)
	}
	rep["mount_probe_err"] = mountProbe(os.Getenv("REPROLAB_PROBE_DIR"), "child")
	json.NewEncoder(os.Stdout).Encode(rep)
}

// mountProbe mounts a tmpfs with a marker file on dir inside the caller's (new) mount namespace.
// Propagation is made private first so nothing reaches the container's namespace. An error is
// evidence only (an AppArmor profile may deny mount while allowing the namespaces themselves).
func mountProbe(dir, token string) string {
	if dir == "" {
		return "no probe dir"
	}
	err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "")
	if err == nil {
		err = syscall.Mount("reprolab", dir, "tmpfs", 0, "size=64k")
	}
	if err == nil {
		err = ioutil.WriteFile(filepath.Join(dir, "marker"), []byte(token), 0644)
	}
	return errString(err)
}

// runNsChild re-executes /proc/self/exe as reprolab-ns-child in new namespaces and decodes its report.
func runNsChild(hostname, probeDir string) (map[string]interface{}, string, error) {
	cmd := reexecCommand("reprolab-ns-child")
	cmd.SysProcAttr.Cloneflags = nsCloneFlags
	cmd.Env = append(os.Environ(), "REPROLAB_CHILD_HOSTNAME="+hostname, "REPROLAB_PROBE_DIR="+probeDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		if isPerm(err) {
			return nil, fmt.Sprintf("clone(CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS) refused: %v (needs CAP_SYS_ADMIN and a seccomp profile that allows it)", err), nil
		}
		return nil, "", fmt.Errorf("start re-exec child: %v", err)
	}
	rep, _, rerr := readJSONLine(newLineReader(out), 10*time.Second)
	werr, _ := waitTimeout(cmd, 10*time.Second)
	if rerr != nil {
		return nil, "", fmt.Errorf("child report: %v (wait: %v)", rerr, werr)
	}
	rep["exit"] = errString(werr)
	return rep, "", nil
}

func reexecNamespaces() (bool, map[string]interface{}, string, error) {
	parentHost := threadHostname()
	parent := map[string]interface{}{"pid": os.Getpid(), "hostname": parentHost}
	for _, ns := range []string{"uts", "mnt", "pid"} {
		parent["ns_"+ns] = nsLink("self", ns)
	}
	probe, err := ioutil.TempDir("", "reexec-probe-")
	if err != nil {
		return false, nil, "", err
	}
	defer os.RemoveAll(probe)
	fmt.Printf("parent pid %d hostname %q; re-exec /proc/self/exe as reprolab-ns-child in new UTS+PID+mount namespaces\n",
		os.Getpid(), parentHost)
	child, skip, err := runNsChild("reexec-child", probe)
	if skip != "" || err != nil {
		return false, nil, skip, err
	}
	after := threadHostname()
	_, markerErr := os.Stat(filepath.Join(probe, "marker"))
	ev := map[string]interface{}{"parent": parent, "child": child, "parent_hostname_after": after,
		"probe_marker_visible_in_parent": markerErr == nil}
	checks := map[string]bool{
		"child_is_pid_1":         jsonInt(child["pid"]) == 1,
		"dispatched_on_argv0":    child["argv0"] == "reprolab-ns-child",
		"child_set_hostname":     child["hostname"] == "reexec-child",
		"parent_hostname_kept":   after == parentHost && after != "reexec-child",
		"uts_ns_differs":         child["ns_uts"] != parent["ns_uts"],
		"mnt_ns_differs":         child["ns_mnt"] != parent["ns_mnt"],
		"pid_ns_differs":         child["ns_pid"] != parent["ns_pid"],
		"child_mount_not_leaked": markerErr != nil,
	}
	ev["checks"] = checks
	fmt.Printf("child: pid %v, hostname %v, argv0 %v, exe %v; parent hostname now %q; checks %v\n",
		child["pid"], child["hostname"], child["argv0"], child["exe"], after, checks)
	return allTrue(checks), ev, "", nil
}

// reexecDeleted copies the binary, runs the copy, and the copy deletes itself before re-executing.
func reexecDeleted() (bool, map[string]interface{}, string, error) {
	dir, err := ioutil.TempDir("", "reexec-deleted-")
	if err != nil {
		return false, nil, "", err
	}
	defer os.RemoveAll(dir)
	copyPath := filepath.Join(dir, "reexec-copy")
	if err := copyFile("/proc/self/exe", copyPath); err != nil {
		return false, nil, "", fmt.Errorf("copy binary: %v", err)
	}
	fmt.Printf("running a copy at %s; it deletes itself, then re-executes /proc/self/exe and tries exec of its path\n", copyPath)
	cmd := reexecCommand("reprolab-deleted-stage")
	cmd.Path = copyPath // the stage runs from the copy (so deleting it leaves the image intact)
	cmd.Env = append(os.Environ(), "REPROLAB_COPY_PATH="+copyPath, "REPROLAB_PROBE_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return false, nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return false, nil, "", fmt.Errorf("start copy: %v", err)
	}
	rep, _, rerr := readJSONLine(newLineReader(out), 20*time.Second)
	werr, _ := waitTimeout(cmd, 10*time.Second)
	if rerr != nil {
		return false, nil, "", fmt.Errorf("stage report: %v (wait: %v)", rerr, werr)
	}
	if s, _ := rep["skip"].(string); s != "" {
		return false, nil, s, nil
	}
	child, _ := rep["reexec_child"].(map[string]interface{})
	if child == nil {
		child = map[string]interface{}{}
	}
	after, _ := rep["exe_after_delete"].(string)
	childExe, _ := child["exe"].(string)
	checks := map[string]bool{
		"exe_link_says_deleted":       strings.HasSuffix(after, " (deleted)"),
		"file_gone_from_disk":         rep["stat_after_delete"] == "ENOENT",
		"reexec_of_proc_self_exe_ran": jsonInt(child["pid"]) == 1 && child["argv0"] == "reprolab-ns-child",
		"child_exe_is_deleted_inode":  strings.HasSuffix(childExe, " (deleted)"),
		"exec_of_path_fails_enoent":   rep["path_exec_errno"] == "ENOENT",
	}
	ev := map[string]interface{}{"stage": rep, "checks": checks}
	fmt.Printf("stage: /proc/self/exe %q -> %q after delete; re-exec child pid %v exe %q; exec of path: %v; checks %v\n",
		rep["exe_before_delete"], after, child["pid"], childExe, rep["path_exec_err"], checks)
	return allTrue(checks), ev, "", nil
}

// deletedStage runs as argv[0] "reprolab-deleted-stage" from the copy of the binary.
func deletedStage() {
	rep := map[string]interface{}{}
	path := os.Getenv("REPROLAB_COPY_PATH")
	rep["exe_before_delete"], _ = os.Readlink("/proc/self/exe")
	rep["remove_err"] = errString(os.Remove(path))
	rep["exe_after_delete"], _ = os.Readlink("/proc/self/exe")
	if _, err := os.Stat(path); err != nil {
		rep["stat_after_delete"] = errnoName(err)
	} else {
		rep["stat_after_delete"] = "present"
	}
	probe := filepath.Join(os.Getenv("REPROLAB_PROBE_DIR"), "probe")
	os.Mkdir(probe, 0755)
	child, skip, err := runNsChild("reexec-deleted-child", probe)
	rep["reexec_child"] = child
	rep["reexec_err"] = errString(err)
	if skip != "" {
		rep["skip"] = skip
	}
	// The on-disk path is gone: exec of it must fail, while /proc/self/exe above still worked.
	byPath := reexecCommand("reprolab-ns-child")
	byPath.Path = path
	err = byPath.Start()
	if err == nil {
		byPath.Wait()
	}
	rep["path_exec_err"] = errString(err)
	rep["path_exec_errno"] = errnoName(err)
	json.NewEncoder(os.Stdout).Encode(rep)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func jsonInt(v interface{}) int {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	if i, ok := v.(int); ok {
		return i
	}
	return -1
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}
