//go:build !linux

package main

import "syscall"

// childProcAttr puts a program in a process group of its own; only Linux has a parent-death signal.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
