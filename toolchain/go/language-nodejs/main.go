// Command pulumi-language-nodejs is a small Node.js language host for the
// Pulumi CLI, written for this repository.
//
// Pulumi's own language host lives in a Go module of its own that the module
// proxy available to this project does not serve, so we implement the part of
// the LanguageRuntime gRPC protocol that running a Node.js/TypeScript program
// needs: Handshake, GetPluginInfo, GetRequiredPackages/GetRequiredPlugins,
// Run, About, GetProgramDependencies and InstallDependencies. The actual
// program execution is delegated to the `@pulumi/pulumi/cmd/run` entry point
// that ships in the program's own node_modules, exactly as with the upstream
// host, so program semantics (TypeScript via ts-node, stack outputs, error
// reporting) come from the @pulumi/pulumi npm package.
//
// The engine starts the host as
//
//	pulumi-language-nodejs [--logtostderr] [-v=N] [--tracing URL] ENGINE_ADDRESS
//
// and reads the gRPC port the host listens on from its first line of stdout.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	logToStderr := fs.Bool("logtostderr", false, "log to stderr instead of files")
	verbose := fs.Int("v", 0, "log verbosity")
	tracing := fs.String("tracing", "", "tracing endpoint to pass on to the program")
	showVersion := fs.Bool("version", false, "print the version and exit")
	// Flags that older engines passed to the Node.js host; accepted and, where
	// it makes sense, used as defaults for the runtime options in Pulumi.yaml.
	typescript := fs.Bool("typescript", true, "run the program through ts-node (default for runtime option 'typescript')")
	tsconfig := fs.String("tsconfig", "", "default for runtime option 'tsconfig'")
	nodeargs := fs.String("nodeargs", "", "default for runtime option 'nodeargs'")
	_ = fs.String("root", "", "ignored (project root; the engine now sends it with each request)")
	_ = fs.String("packagemanager", "", "ignored")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}

	logging.InitLogging(*logToStderr, *verbose, false)

	engineAddress := ""
	if fs.NArg() > 0 {
		engineAddress = fs.Arg(0)
	}

	host := &languageHost{
		engineAddress: engineAddress,
		tracing:       *tracing,
		defaults: runtimeOptions{
			typescript: *typescript,
			tsconfig:   *tsconfig,
			nodeargs:   *nodeargs,
		},
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}

	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	watchEngine(500*time.Millisecond, host.engineGone)

	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}
