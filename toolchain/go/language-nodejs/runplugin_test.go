package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeRunPluginServer collects what RunPlugin sends and cancels the request once the plugin has
// printed its port.
type fakeRunPluginServer struct {
	grpc.ServerStream
	ctx    context.Context
	cancel context.CancelFunc
	stdout strings.Builder
	stderr strings.Builder
}

func (f *fakeRunPluginServer) Context() context.Context { return f.ctx }

func (f *fakeRunPluginServer) Send(resp *pulumirpc.RunPluginResponse) error {
	switch out := resp.Output.(type) {
	case *pulumirpc.RunPluginResponse_Stdout:
		f.stdout.Write(out.Stdout)
		if strings.Contains(f.stdout.String(), "\n") {
			f.cancel()
		}
	case *pulumirpc.RunPluginResponse_Stderr:
		f.stderr.Write(out.Stderr)
	}
	return nil
}

func processEnded(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Fields(string(b))[2] == "Z"
}

// The fixture plugin starts a child in its process group; ending the request (while the host lives
// on) must end both, and RunPlugin then reports the cancellation rather than an exit code.
func TestRunPluginEndsTheProcessGroupWithTheRequest(t *testing.T) {
	fixture, err := filepath.Abs("../../../test/fixtures/plugin-provider")
	if err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(t.TempDir(), "pids")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	server := &fakeRunPluginServer{ctx: ctx, cancel: cancel}
	opts, _ := structpb.NewStruct(map[string]any{})
	h := &languageHost{defaults: runtimeOptions{typescript: true}}
	err = h.RunPlugin(&pulumirpc.RunPluginRequest{
		Kind: "resource",
		Pwd:  fixture,
		Args: []string{"127.0.0.1:1"},
		Env:  []string{"FIXTURE_PIDS=" + pids},
		Info: &pulumirpc.ProgramInfo{RootDirectory: fixture, ProgramDirectory: fixture, EntryPoint: ".", Options: opts},
	}, server)
	if status.Code(err) != codes.Canceled {
		t.Fatalf("RunPlugin returned %v, want a Canceled status (stderr: %s)", err, server.stderr.String())
	}
	if _, err := strconv.Atoi(strings.TrimSpace(server.stdout.String())); err != nil {
		t.Fatalf("the plugin's first stdout line is not a port: %q", server.stdout.String())
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		for !processEnded(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !processEnded(pid) {
			t.Errorf("process %d of the plugin's group is still running after the request ended", pid)
		}
	}
}

func TestUnresolvedDependencies(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The plugin sits inside a project's node_modules and finds its dependencies there.
	write("node_modules/@pulumi/pulumi/package.json", `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	write("node_modules/yaml/package.json", `{"name":"yaml","version":"2.9.1"}`)
	write("node_modules/old/package.json", `{"name":"old","version":"1.2.0"}`)
	plugin := filepath.Join(root, "node_modules", "the-plugin")
	write("node_modules/the-plugin/package.json", `{
		"name": "the-plugin",
		"dependencies": {"yaml": "^2.9.1", "local": "file:../local"},
		"devDependencies": {"mocha": "^11.0.0"},
		"peerDependencies": {"@pulumi/pulumi": "^3.248.0", "@pulumi/policy": "^1.21.0"},
		"peerDependenciesMeta": {"@pulumi/policy": {"optional": true}}
	}`)
	write("node_modules/local/package.json", `{"name":"local","version":"0.0.1"}`)
	got, err := unresolvedDependencies(plugin)
	if err != nil || len(got) != 0 {
		t.Fatalf("unresolvedDependencies = %v, %v; want none (devDependencies and optional peers are not needed to run)", got, err)
	}

	write("node_modules/the-plugin/package.json", `{"name":"the-plugin","dependencies":{"old":"^1.3.0","gone":"^1.0.0"}}`)
	got, err = unresolvedDependencies(plugin)
	want := "gone@^1.0.0 (not installed), old@^1.3.0 (1.2.0 is installed)"
	if err != nil || strings.Join(got, ", ") != want {
		t.Fatalf("unresolvedDependencies = %v, %v; want %s", got, err, want)
	}
}
