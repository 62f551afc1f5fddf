//go:build unix

package main

// A private temp directory for this provider process, removed when it exits.
//
// The provider's Configure writes the whole kubeconfig it was given (`kubernetes:kubeconfig`,
// credentials included, also when the config value is a secret) to os.CreateTemp("", "kubeconfig")
// for Helm's sake and never removes it (pkg/provider/util.go writeKubeconfigToFile, called from
// provider.go Configure). Every `preview`, `up` or `refresh` against a cluster would leave a
// /tmp/kubeconfigNNNN holding the admin client key. os.CreateTemp reads $TMPDIR on each call, so
// pointing it at a directory of our own (mode 0700) keeps the file out of the shared temp
// directory while the provider runs, and removing the directory when the process ends leaves
// nothing behind. The engine stops a provider with SIGINT to its process group (SIGKILL only
// after 5 s), which is handled here; a directory left by a process that was killed outright is
// removed by the next provider that starts.

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const tempDirPrefix = "pulumi-resource-kubernetes-"

// usePrivateTempDir makes a 0700 directory under the current temp directory, points TMPDIR at it
// and returns the function that removes it. It also removes such directories whose process is gone.
func usePrivateTempDir() (func(), error) {
	parent := os.TempDir()
	removeStaleTempDirs(parent)
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", tempDirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := os.Setenv("TMPDIR", dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var once sync.Once
	cleanup := func() { once.Do(func() { _ = os.RemoveAll(dir) }) }

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-signals
		cleanup()
		// End as the signal would have without a handler; exit anyway when it was ignored
		// (a process started in the background by a non-interactive shell ignores SIGINT).
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		time.Sleep(100 * time.Millisecond)
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
	return cleanup, nil
}

// removeStaleTempDirs removes this user's directories of provider processes that no longer run.
func removeStaleTempDirs(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, tempDirPrefix) {
			continue
		}
		rest := strings.TrimPrefix(name, tempDirPrefix)
		pid, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '-'), 0)])
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		full := filepath.Join(parent, name)
		info, err := os.Lstat(full)
		if err != nil || !info.IsDir() {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
			continue
		}
		_ = os.RemoveAll(full)
	}
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
