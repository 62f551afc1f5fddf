// Command genembed writes the two JSON files that the provider command
// embeds. It reads schema.json and terraform-mapping.json from the
// cmd/pulumi-resource-kubernetes directory of the provider module (as
// resolved by this module's go.mod), stamps the schema with the provider
// version and writes compact copies into the output directory.
//
// Usage: go run ./internal/genembed -version 4.25.0 -out .
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const providerModule = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	ver := flag.String("version", "", "provider version to stamp into the schema, without a leading v (e.g. 4.25.0)")
	out := flag.String("out", ".", "directory to write schema-embed.json and terraform-mapping-embed.json into")
	flag.Parse()
	if err := run(*ver, *out); err != nil {
		fmt.Fprintf(os.Stderr, "genembed: %v\n", err)
		os.Exit(1)
	}
}

func run(ver, out string) error {
	if ver == "" || strings.HasPrefix(ver, "v") {
		return fmt.Errorf("-version must be a plain semver such as 4.25.0, got %q", ver)
	}
	dir, err := moduleDir(providerModule)
	if err != nil {
		return err
	}
	src := filepath.Join(dir, "cmd", "pulumi-resource-kubernetes")

	// The schema goes through schema.PackageSpec, as the upstream generator
	// does, so the embedded document carries exactly the fields the Pulumi
	// schema defines.
	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parsing schema.json: %w", err)
	}
	if spec.Name != "kubernetes" {
		return fmt.Errorf("schema.json names package %q, expected kubernetes", spec.Name)
	}
	spec.Version = ver
	schemaOut, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encoding schema: %w", err)
	}

	raw, err = os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("parsing terraform-mapping.json: %w", err)
	}

	if err := os.WriteFile(filepath.Join(out, "schema-embed.json"), schemaOut, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "terraform-mapping-embed.json"), compact.Bytes(), 0o644)
}

// moduleDir asks the go command where the required version of a module
// lives in the module cache (downloading it if needed).
func moduleDir(path string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", path, err)
	}
	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", path, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", path, info.Error)
	}
	return info.Dir, nil
}
