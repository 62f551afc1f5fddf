// pulumi-sdkgen writes a Go or Python SDK for a Pulumi package schema with the code generators
// Pulumi's own Go and Python language hosts call (pkg/v3/codegen/go, codegen/python). The CLI's
// `pulumi package gen-sdk` hands each language to that language's host, and neither host can be
// built here (their modules are not served), so this does the same generation without one.
//
//	pulumi-sdkgen --schema schema.json --language go|python --out DIR [--go-import-base-path PATH]
//
// The Go SDK gets a go.mod (module: the import base path's parent) requiring the Pulumi Go SDK
// at --go-pulumi-sdk-version. Exits non-zero, with the reason on stderr, on any failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/blang/semver"
	"golang.org/x/mod/modfile"
)

const tool = "pulumi-sdkgen"

// version is stamped at build time (-X main.version=...): the pkg/v3 version it generates with.
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", tool, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet(tool, flag.ContinueOnError)
	schemaPath := fs.String("schema", "", "the package schema (JSON, as `pulumi package get-schema` prints it)")
	language := fs.String("language", "", "go or python")
	out := fs.String("out", "", "the directory to write the SDK to (created; must be empty if it exists)")
	importBase := fs.String("go-import-base-path", "", "Go only: the import path of the generated package, unless the schema sets language.go.importBasePath")
	sdkVersion := fs.String("go-pulumi-sdk-version", "", "Go only: the github.com/pulumi/pulumi/sdk/v3 version the SDK's go.mod requires")
	showVersion := fs.Bool("version", false, "print the Pulumi code generator version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *language != "go" && *language != "python" {
		return fmt.Errorf("`--language` must be go or python, got %q", *language)
	}
	if *schemaPath == "" || *out == "" {
		return errors.New("`--schema` and `--out` are required")
	}
	if err := emptyOrMissing(*out); err != nil {
		return err
	}

	raw, err := os.ReadFile(*schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("`--schema` %s is not a package schema: %w", *schemaPath, err)
	}
	if *language == "go" {
		if err := setGoInfo(&spec, *importBase); err != nil {
			return err
		}
	}
	pkg, diags, err := schema.BindSpec(spec, selfContained{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("binding %s: %w", *schemaPath, err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("the schema in %s is not valid: %v", *schemaPath, diags)
	}

	var files map[string][]byte
	switch *language {
	case "go":
		pkg.SupportPack = true // a self-contained module: the generator writes its go.mod
		files, err = gogen.GeneratePackage(tool, pkg, nil)
		if err == nil {
			err = pinPulumiSDK(files, *sdkVersion)
		}
	case "python":
		files, err = pygen.GeneratePackage(tool, pkg, nil, nil)
	}
	if err != nil {
		return fmt.Errorf("generating the %s SDK: %w", *language, err)
	}
	return write(*out, files)
}

// setGoInfo sets the import path unless the schema has one: without it the generator invents one
// under example.com.
func setGoInfo(spec *schema.PackageSpec, importBase string) error {
	info := map[string]any{}
	if r, ok := spec.Language["go"]; ok {
		if err := json.Unmarshal(r, &info); err != nil {
			return fmt.Errorf("the schema's language.go is not an object: %w", err)
		}
	}
	if _, set := info["importBasePath"]; !set {
		if importBase == "" {
			return errors.New("the schema sets no language.go.importBasePath: pass `--go-import-base-path`, e.g. github.com/acme/model-canary/sdk/go/modelcanary")
		}
		if !regexp.MustCompile(`^[a-z0-9.-]+(/[A-Za-z0-9._~-]+)+$`).MatchString(importBase) {
			return fmt.Errorf("`--go-import-base-path` must be a Go import path like github.com/acme/model-canary/sdk/go/modelcanary, got %q", importBase)
		}
		info["importBasePath"] = importBase
	}
	r, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if spec.Language == nil {
		spec.Language = map[string]schema.RawMessage{}
	}
	spec.Language["go"] = r
	return nil
}

// pinPulumiSDK replaces the generator's minimum Pulumi SDK requirement (v3.30.0) with the given
// version, so the SDK builds against the Pulumi SDK the program already uses.
func pinPulumiSDK(files map[string][]byte, v string) error {
	if v == "" {
		return nil
	}
	f, err := modfile.Parse("go.mod", files["go.mod"], nil)
	if err != nil {
		return fmt.Errorf("the generated go.mod: %w", err)
	}
	if err := f.AddRequire("github.com/pulumi/pulumi/sdk/v3", v); err != nil {
		return fmt.Errorf("`--go-pulumi-sdk-version` %q: %w", v, err)
	}
	files["go.mod"], err = f.Format()
	return err
}

func emptyOrMissing(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("`--out` %s is not empty: choose a new directory, or remove it first", dir)
	}
	return nil
}

func write(out string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.Contains(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("the generator produced an unexpected path %q", name)
		}
		p := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// selfContained is the schema loader: the package must not refer to another package's types (no
// plugins can be loaded here to resolve them), and a reference to one is an error that names it.
type selfContained struct{}

func (selfContained) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema refers to package %q; only self-contained schemas can be generated here", name)
}

func (l selfContained) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, d.Version)
}
