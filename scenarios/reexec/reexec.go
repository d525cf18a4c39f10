package main

// A small copy, written for this lab, of the API of moby's pkg/reexec (Register, Init, Command):
// a program registers initializers by name, re-executes itself through /proc/self/exe with argv[0]
// set to that name, and Init() in main() dispatches on argv[0]. The Debian package that carries the
// original (golang-github-docker-docker-dev) pulls about 220 packages, so the lab does not use it.

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

var registeredInitializers = make(map[string]func())

// reexecRegister adds an initialization func under the given name (argv[0] of the re-exec).
func reexecRegister(name string, initializer func()) {
	if _, exists := registeredInitializers[name]; exists {
		panic(fmt.Sprintf("reexec func already registered under name %q", name))
	}
	registeredInitializers[name] = initializer
}

// reexecInit runs the initializer registered under argv[0], if any, and reports whether it ran.
func reexecInit() bool {
	initializer, exists := registeredInitializers[os.Args[0]]
	if exists {
		initializer()
		return true
	}
	return false
}

// reexecSelf is the path the kernel keeps for the running binary: it works even when the
// file on disk was replaced or deleted, because it names the mapped inode, not a path.
func reexecSelf() string { return "/proc/self/exe" }

// reexecCommand is moby's Linux reexec.Command: argv[0] carries the initializer's name, and the
// child gets SIGTERM when its parent dies. (That Pdeathsig is tied to the creating thread, not the
// process: see the pdeathsig-thread variant.)
func reexecCommand(args ...string) *exec.Cmd {
	return &exec.Cmd{
		Path:        reexecSelf(),
		Args:        args,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	}
}
