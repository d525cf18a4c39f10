//go:build cgmmodel
// +build cgmmodel

package main

// Link the cgm_escape MODEL library (../cgmescape) instead of liblxc; it is
// installed in /opt/reprolab/lib, hence the rpath.

// #cgo LDFLAGS: -L/out/lib -Wl,-rpath,/opt/reprolab/lib -Wl,--no-as-needed -lcgmescape
import "C"
