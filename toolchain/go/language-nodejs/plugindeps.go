package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/Masterminds/semver/v3"
)

// unresolvedDependencies lists what a plugin needs to run and Node would not find from its
// directory: each of its package.json `dependencies` and non-optional `peerDependencies` that
// does not resolve (node_modules here or in a parent directory, as Node looks it up), or resolves
// to a version outside the range asked for. Ranges npm understands but semver does not (tags,
// `file:`, git URLs, aliases) are satisfied by any installed version.
//
// A plugin inside a project's node_modules (a component package, a policy pack shipped in a
// package) finds its dependencies in the project's node_modules; installing there again would
// give it a second, private copy of @pulumi/pulumi.
func unresolvedDependencies(dir string) ([]string, error) {
	pkg, err := readPackageJSON(dir)
	if err != nil {
		return nil, err
	}
	wanted := map[string]string{}
	for name, spec := range pkg.PeerDependencies {
		if !pkg.PeerDependenciesMeta[name].Optional {
			wanted[name] = spec
		}
	}
	for name, spec := range pkg.Dependencies {
		wanted[name] = spec
	}
	names := make([]string, 0, len(wanted))
	for name := range wanted {
		names = append(names, name)
	}
	sort.Strings(names)

	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range names {
		spec := wanted[name]
		found, ok := resolvePackage(name, abs)
		if !ok {
			missing = append(missing, fmt.Sprintf("%s@%s (not installed)", name, spec))
			continue
		}
		installed, err := readPackageJSON(found)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s@%s (%v)", name, spec, err))
			continue
		}
		if !satisfies(installed.Version, spec) {
			missing = append(missing, fmt.Sprintf("%s@%s (%s is installed)", name, spec, installed.Version))
		}
	}
	return missing, nil
}

// satisfies reports whether an installed version meets an npm version range.
func satisfies(version, spec string) bool {
	constraint, err := semver.NewConstraint(spec)
	if err != nil {
		return true // not a semver range: whatever is installed under that name
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false
	}
	return constraint.Check(v)
}
