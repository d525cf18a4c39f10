// ctr starts one libcontainer container, the way Nomad's exec driver did and
// the original report's libcontainer/main.go did: cgroup Parent "system",
// Name "test-container", the container runs `cat /proc/self/cgroup`.
//
// Usage: ctr ROOTFS STATEDIR ID
//
// Output: this process's own cgroup lines prefixed "self ", the shared
// objects of interest mapped into it prefixed "mapped: ", then the container's
// unprefixed /proc/self/cgroup lines, then the cgroups libcontainer placed it
// in, prefixed "managed ". The driver (../driver) compares them.
//
// The same source is built three ways (build tags lxclink and cgmmodel pull
// in one more cgo file each); see build.sh. Only standard library, x/sys and
// the libcontainer API common to runc 1.0.0-rc93, 1.1.5 and 1.1.15 are used.
package main

import (
	"bufio"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/devices"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"
)

// init handles libcontainer's re-exec of this binary ("ctr init") as the
// container's init. The nsenter package's C constructor has already run by
// now; so has every shared library's constructor (liblxc's or the model's):
// that is where the race of the original report comes from.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		factory, _ := libcontainer.New("")
		if err := factory.StartInitialization(); err != nil {
			fmt.Fprintln(os.Stderr, "ctr init:", err)
			os.Exit(1)
		}
		panic("StartInitialization returned")
	}
}

func printSelf() {
	data, err := ioutil.ReadFile("/proc/self/cgroup")
	if err != nil {
		fmt.Println("self error", err)
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fmt.Println("self " + l)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		i := strings.Index(l, "/")
		if i < 0 {
			continue
		}
		p := l[i:]
		if (strings.Contains(p, "/liblxc") || strings.Contains(p, "/libcgmescape")) && !seen[p] {
			seen[p] = true
			fmt.Println("mapped: " + p)
		}
	}
}

func config(rootfs string) *configs.Config {
	caps := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	var rules []*devices.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	mountFlags := unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	return &configs.Config{
		Rootfs: rootfs,
		Capabilities: &configs.Capabilities{
			Bounding: caps, Effective: caps, Inheritable: caps, Permitted: caps, Ambient: caps,
		},
		Namespaces: configs.Namespaces([]configs.Namespace{{Type: configs.NEWNS}}),
		Cgroups: &configs.Cgroup{
			Name:      "test-container",
			Parent:    "system",
			Resources: &configs.Resources{Devices: rules},
		},
		Devices: specconv.AllowedDevices,
		Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc", Flags: mountFlags},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs",
				Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755"},
		},
	}
}

func run(rootfs, stateDir, id string) error {
	factory, err := libcontainer.New(stateDir, libcontainer.InitArgs(os.Args[0], "init"))
	if err != nil {
		return fmt.Errorf("factory: %v", err)
	}
	container, err := factory.Create(id, config(rootfs))
	if err != nil {
		return fmt.Errorf("create: %v", err)
	}
	defer container.Destroy()
	process := &libcontainer.Process{
		Args:   []string{"/bin/cat", "/proc/self/cgroup"},
		Env:    []string{"PATH=/bin"},
		User:   "root",
		Stdin:  nil,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Init:   true,
	}
	if err := container.Run(process); err != nil {
		return fmt.Errorf("run: %v", err)
	}
	if _, err := process.Wait(); err != nil {
		return fmt.Errorf("wait: %v", err)
	}
	printManaged(container)
	return nil
}

// printManaged prints, before Destroy removes them, the cgroups libcontainer
// itself placed the container in: its manager's paths per subsystem (v1: one
// per controller it knows and found mounted, e.g. no "misc" in 1.1.5; v2: one
// path, key ""), each with whether the directory really exists. The driver
// judges only these controllers. Format: "managed KEY PATH present|missing",
// KEY "-" for v2's empty key.
func printManaged(container libcontainer.Container) {
	st, err := container.State()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctr: state:", err)
		return
	}
	for key, path := range st.CgroupPaths {
		present := "missing"
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			present = "present"
		}
		if key == "" {
			key = "-"
		}
		fmt.Printf("managed %s %s %s\n", key, path, present)
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: ctr ROOTFS STATEDIR ID")
		os.Exit(2)
	}
	rootfs, err := filepath.Abs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctr:", err)
		os.Exit(1)
	}
	printSelf()
	if err := run(rootfs, os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "ctr:", err)
		os.Exit(1)
	}
}
