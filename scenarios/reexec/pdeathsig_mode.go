package main

// Variant pdeathsig-thread (golang/go#27505): the kernel sends the parent-death signal when the
// *thread* that forked the child exits, not when the process does. A goroutine locked to its
// thread starts a child with Pdeathsig SIGKILL and returns without unlocking; the Go runtime then
// ends that thread, and the child is killed while the parent process carries on.

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// sleeper runs as argv[0] "reprolab-sleeper": says ready, then waits (bounded) to be killed.
func sleeper() {
	fmt.Println("ready", os.Getpid())
	time.Sleep(30 * time.Second)
}

func pdeathsigThread() (bool, map[string]interface{}, string, error) {
	type started struct {
		pid, tid int
		err      error
		cmdErr   chan error
		state    chan *os.ProcessState
	}
	ch := make(chan started, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends when this goroutine returns
		s := started{tid: syscall.Gettid(), cmdErr: make(chan error, 1), state: make(chan *os.ProcessState, 1)}
		cmd := reexecCommand("reprolab-sleeper")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			s.err = err
			ch <- s
			return
		}
		s.pid = cmd.Process.Pid
		if _, err := newLineReader(out).next(5 * time.Second); err != nil {
			s.err = fmt.Errorf("child not ready: %v", err)
		}
		go func() { // the waiter runs on another thread; only the creating thread matters
			err := cmd.Wait()
			s.cmdErr <- err
			s.state <- cmd.ProcessState
		}()
		ch <- s
	}()
	var s started
	select {
	case s = <-ch:
	case <-time.After(10 * time.Second):
		return false, nil, "", fmt.Errorf("starter goroutine did not answer within 10 s")
	}
	if s.err != nil {
		if s.pid > 0 {
			syscall.Kill(s.pid, syscall.SIGKILL)
		}
		return false, nil, "", s.err
	}
	t0 := time.Now()
	ev := map[string]interface{}{"parent_pid": os.Getpid(), "child_pid": s.pid, "creating_tid": s.tid,
		"creating_tid_is_main_thread": s.tid == os.Getpid()}
	fmt.Printf("child %d started with Pdeathsig=SIGKILL from locked thread %d; that goroutine has returned\n", s.pid, s.tid)
	detected := false
	select {
	case <-s.cmdErr:
		st := <-s.state
		ms := float64(time.Since(t0).Microseconds()) / 1000
		ws, _ := st.Sys().(syscall.WaitStatus)
		ev["child_signaled"] = ws.Signaled()
		if ws.Signaled() {
			ev["child_signal"] = ws.Signal().String()
		} else {
			ev["child_exit_status"] = ws.ExitStatus()
		}
		ev["child_died_after_ms"] = ms
		detected = ws.Signaled() && ws.Signal() == syscall.SIGKILL
	case <-time.After(5 * time.Second):
		ev["child_alive_after_ms"] = 5000
		syscall.Kill(s.pid, syscall.SIGKILL)
		<-s.cmdErr
	}
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", s.tid))
	ev["creating_thread_gone"] = err != nil
	ev["parent_alive_threads"] = threadsOf("self")
	fmt.Printf("child killed by SIGKILL: %v (%v); creating thread gone: %v; parent still running with %v threads\n",
		detected, ev["child_signal"], ev["creating_thread_gone"], ev["parent_alive_threads"])
	return detected, ev, "", nil
}
