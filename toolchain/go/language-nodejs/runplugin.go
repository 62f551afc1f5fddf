package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RunPlugin runs a plugin written in Node.js: a folder with a PulumiPlugin.yaml (kind "resource":
// a source-based component provider, started with @pulumi/pulumi/cmd/run-plugin) or a
// PulumiPolicy.yaml (kind "analyzer": a policy pack, started with
// @pulumi/pulumi/cmd/run-policy-pack), both resolved from the plugin's own node_modules.
//
// The engine reads the plugin's port from the first line of its stdout, so stdout and stderr are
// relayed to the engine as they come. The plugin runs in a process group of its own that is
// killed when the request's context ends (the engine closes the plugin or goes away), and a
// non-zero exit is returned as an error.
func (h *languageHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	dir := programDir(req.GetInfo(), req.GetPwd())
	stdout, stderr := pluginStreams(server)

	module, analyzer := "", false
	switch req.GetKind() {
	case "analyzer":
		module, analyzer = "@pulumi/pulumi/cmd/run-policy-pack", true
	case "resource", "":
		module = "@pulumi/pulumi/cmd/run-plugin"
	default:
		return status.Errorf(codes.Unimplemented,
			"this Node.js language host runs resource plugins and policy packs, not %q plugins", req.GetKind())
	}

	opts, err := h.options(req.GetInfo())
	if err != nil {
		return err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return errors.New("could not find node on PATH; install Node.js to run this plugin")
	}
	script, err := resolveModule(ctx, node, dir, module)
	if err != nil {
		// The CLI recognises Node's own wording for a policy pack and then names the fix itself.
		fmt.Fprintf(stderr, "Cannot find module '%s' from %s: the plugin's dependencies are not installed; run `npm install` in %s\n",
			module, dir, dir)
		return fmt.Errorf("the plugin in %s cannot start: @pulumi/pulumi is not installed there (run `npm install` in %s): %v",
			dir, dir, err)
	}

	args := append(strings.Fields(opts.nodeargs), script)
	if analyzer {
		// run-policy-pack takes <engine address> <policy pack directory>.
		args = append(append(args, req.GetArgs()...), dir)
	} else {
		// run-plugin takes <plugin directory> <engine address>.
		args = append(append(args, dir), req.GetArgs()...)
	}
	env := pluginEnv(os.Environ(), req.GetEnv(), opts)

	cmd := exec.Command(node, args...)
	// Policy packs have always run in their own directory; other plugins run where the engine says.
	cmd.Dir = dir
	if !analyzer && req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	cmd.Stderr = stderr
	cmd.SysProcAttr = childProcAttr()

	// A policy pack reads the stack's configuration from its environment when it starts, but the
	// engine sends it (ConfigureStack) only after it has connected to the port it read. The SDK's
	// proxy answers the engine first, then starts the pack with that environment and forwards the
	// rest of the calls to it.
	var proxy *sdk.PolicyProxy
	if analyzer {
		var proxied io.Writer
		proxy, proxied, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("starting the policy pack proxy: %w", err)
		}
		config, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the stack configuration: %w", err)
		}
		env = append(env, stackEnv(config)...)
		stdout = proxied
	}
	cmd.Stdout = stdout
	cmd.Env = env
	logging.V(5).Infof("running plugin %s %s in %s", node, strings.Join(args, " "), cmd.Dir)

	if err := h.start(cmd); err != nil {
		return fmt.Errorf("starting node for the plugin in %s: %w", dir, err)
	}
	defer h.forget(cmd)
	stop := context.AfterFunc(ctx, func() { killGroup(cmd, syscall.SIGKILL) })
	defer stop()

	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // waits for the pack to exit
	} else {
		err = cmd.Wait()
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The engine closed the plugin: ending it is what was asked.
		return status.FromContextError(ctx.Err()).Err()
	}
	return pluginExitError(dir, err)
}

// pluginExitError words how a plugin ended for the engine.
func pluginExitError(dir string, err error) error {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("the plugin in %s failed: %w", dir, err)
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("the plugin in %s was terminated by signal %v", dir, ws.Signal())
	}
	if code := exitErr.ExitCode(); code == bailExitCode {
		return fmt.Errorf("the plugin in %s exited with code %d after reporting its error (above)", dir, code)
	}
	return fmt.Errorf("the plugin in %s exited with code %d", dir, exitErr.ExitCode())
}

// pluginEnv is the host's environment with the request's variables and the runtime options over it.
func pluginEnv(base, requested []string, opts runtimeOptions) []string {
	env := append(append([]string{}, base...), requested...)
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript))
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return env
}

// stackEnv is what @pulumi/pulumi reads at start about the stack a policy pack checks.
func stackEnv(config *pulumirpc.AnalyzerStackConfigureRequest) []string {
	if config == nil {
		return nil
	}
	var env []string
	set := func(key, value string) {
		if value != "" {
			env = append(env, key+"="+value)
		}
	}
	set("PULUMI_NODEJS_ORGANIZATION", config.GetOrganization())
	set("PULUMI_NODEJS_PROJECT", config.GetProject())
	set("PULUMI_NODEJS_STACK", config.GetStack())
	set("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(config.GetDryRun()))
	if c := config.GetConfig(); c != nil {
		if b, err := json.Marshal(c); err == nil {
			set("PULUMI_CONFIG", string(b))
		}
	}
	if keys := config.GetConfigSecretKeys(); keys != nil {
		if b, err := json.Marshal(keys); err == nil {
			set("PULUMI_CONFIG_SECRET_KEYS", string(b))
		}
	}
	return env
}

// pluginStreams are writers that relay a plugin's stdout and stderr to the engine. A gRPC stream
// takes one Send at a time, and the two pipes are copied by goroutines of their own.
func pluginStreams(server pulumirpc.LanguageRuntime_RunPluginServer) (stdout, stderr io.Writer) {
	var mu sync.Mutex
	send := func(resp *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(resp)
	}
	stdout = writerFunc(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: append([]byte(nil), p...)}})
	})
	stderr = writerFunc(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: append([]byte(nil), p...)}})
	})
	return stdout, stderr
}
