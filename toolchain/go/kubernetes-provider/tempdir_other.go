//go:build !unix

package main

// usePrivateTempDir does nothing where there are no Unix signals and permissions (see tempdir.go).
func usePrivateTempDir() (func(), error) {
	return func() {}, nil
}
