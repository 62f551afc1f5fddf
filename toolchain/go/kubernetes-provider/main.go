// Command pulumi-resource-kubernetes builds the Pulumi Kubernetes resource
// provider from its published Go module.
//
// The upstream command embeds two generated (untracked) JSON files, so it
// cannot be built straight from the module proxy. toolchain/ensure.sh copies
// this module to a scratch directory, runs ./internal/genembed there to write
// schema-embed.json and terraform-mapping-embed.json next to this file, and
// then builds it.
package main

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schemaJSON []byte

//go:embed terraform-mapping-embed.json
var terraformMappingJSON []byte

func main() {
	// version.Version is set with -ldflags -X at build time. Unlike the
	// upstream binary, this one answers --version, which ensure.sh uses to
	// check a provider it finds on PATH.
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version.Version)
		return
	}
	cleanup, err := usePrivateTempDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: cannot make a private temp directory: %v\n", err)
		os.Exit(1)
	}
	defer cleanup()
	provider.Serve("kubernetes", version.Version, schemaJSON, terraformMappingJSON)
}
