//go:build lxclink
// +build lxclink

package main

// Link liblxc without calling it, as Nomad did by importing go-lxc.
// --no-as-needed keeps the linker from dropping the unreferenced library.

// #cgo LDFLAGS: -Wl,--no-as-needed -llxc
import "C"
