package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// packageJSON is the subset of package.json this host reads.
type packageJSON struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
	PeerDependenciesMeta map[string]struct {
		Optional bool `json:"optional"`
	} `json:"peerDependenciesMeta"`
	Pulumi               *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(dir string) (*packageJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filepath.Join(dir, "package.json"), err)
	}
	return &p, nil
}

// projectRoot returns the nearest directory at or above dir that holds a
// package.json.
func projectRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "package.json")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no package.json found in %s or any parent directory", abs)
		}
	}
}

// resolvePackage finds the installed directory of an npm package the way
// Node's resolver does: node_modules/<name> in `from` or its ancestors.
func resolvePackage(name, from string) (string, bool) {
	for d := from; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", filepath.FromSlash(name))
		if _, err := os.Stat(filepath.Join(candidate, "package.json")); err == nil {
			return candidate, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// walkDependencies visits every installed package reachable from the
// project's package.json (dependencies, devDependencies and
// optionalDependencies of the project; dependencies and optionalDependencies
// of packages), each package directory once. Packages that are not installed
// are skipped.
func walkDependencies(root string, visit func(dir string, pkg *packageJSON) error) error {
	project, err := readPackageJSON(root)
	if err != nil {
		return err
	}
	type pending struct{ name, from string }
	var queue []pending
	push := func(from string, deps ...map[string]string) {
		for _, m := range deps {
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				queue = append(queue, pending{n, from})
			}
		}
	}
	push(root, project.Dependencies, project.DevDependencies, project.OptionalDependencies)

	seen := map[string]bool{}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		dir, ok := resolvePackage(next.name, next.from)
		if !ok {
			continue
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			real = dir
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		pkg, err := readPackageJSON(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if err := visit(dir, pkg); err != nil {
			return err
		}
		// Resolve a package's own dependencies from its real location, as
		// Node does (preserve-symlinks is off by default).
		push(real, pkg.Dependencies, pkg.OptionalDependencies)
	}
	return nil
}

// requiredPackages lists the Pulumi resource plugins that the installed npm
// packages declare through the "pulumi" section of their package.json.
func requiredPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	root, err := projectRoot(dir)
	if err != nil {
		return nil, err
	}
	var result []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	err = walkDependencies(root, func(_ string, pkg *packageJSON) error {
		if pkg.Pulumi == nil || !pkg.Pulumi.Resource {
			return nil
		}
		name := pkg.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(pkg.Name, "@pulumi/")
		}
		ver := pkg.Pulumi.Version
		if ver == "" {
			ver = pkg.Version
		}
		if ver != "" && !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		key := name + "@" + ver
		if seen[key] {
			return nil
		}
		seen[key] = true
		result = append(result, &pulumirpc.PackageDependency{
			Name:    name,
			Kind:    "resource",
			Version: ver,
			Server:  pkg.Pulumi.Server,
		})
		return nil
	})
	return result, err
}

// programDependencies lists the installed versions of the project's npm
// dependencies (all reachable packages when transitive is set).
func programDependencies(dir string, transitive bool) ([]*pulumirpc.DependencyInfo, error) {
	root, err := projectRoot(dir)
	if err != nil {
		return nil, err
	}
	var result []*pulumirpc.DependencyInfo
	if transitive {
		err = walkDependencies(root, func(_ string, pkg *packageJSON) error {
			result = append(result, &pulumirpc.DependencyInfo{Name: pkg.Name, Version: pkg.Version})
			return nil
		})
	} else {
		var project *packageJSON
		project, err = readPackageJSON(root)
		if err != nil {
			return nil, err
		}
		names := map[string]bool{}
		for _, m := range []map[string]string{project.Dependencies, project.DevDependencies} {
			for n := range m {
				names[n] = true
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			pkgDir, ok := resolvePackage(n, root)
			if !ok {
				continue
			}
			pkg, perr := readPackageJSON(pkgDir)
			if perr != nil {
				continue
			}
			result = append(result, &pulumirpc.DependencyInfo{Name: n, Version: pkg.Version})
		}
	}
	sort.SliceStable(result, func(i, j int) bool { return result[i].Name < result[j].Name })
	return result, err
}
