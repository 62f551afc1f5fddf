package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// The host lives exactly as long as the engine that started it. When the engine dies without
// shutting the host down (say `kill -9` of a rollout during an `up`), the host is re-parented to
// init or a subreaper; it then ends the programs it runs (their whole process groups) and exits,
// instead of living on as an orphan with a Node.js program that can never report to anyone.
// The programs also carry a parent-death signal (see childProcAttr), so they end even if the host
// itself is killed with SIGKILL.

// watchEngine polls the parent pid and calls gone once it changes. Polling the parent is the one
// check that holds however the engine ended; a closed gRPC connection is not seen while idle.
func watchEngine(interval time.Duration, gone func()) {
	parent := os.Getppid()
	go func() {
		for range time.Tick(interval) {
			if os.Getppid() != parent {
				gone()
				return
			}
		}
	}()
}

// engineGone ends every running program and exits the host.
func (h *languageHost) engineGone() {
	fmt.Fprintln(os.Stderr, "pulumi-language-nodejs: the engine that started this host has exited; stopping the program and exiting")
	h.signalAll(syscall.SIGTERM)
	time.Sleep(2 * time.Second)
	h.signalAll(syscall.SIGKILL)
	os.Exit(1)
}
