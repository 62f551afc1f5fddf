package main

import "syscall"

// childProcAttr puts a program in a process group of its own and has the kernel send it SIGKILL
// when the host exits (Pdeathsig is tied to the thread that started it; Go keeps that thread for
// the life of the process unless a goroutine locked to it exits, which this host never does).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
