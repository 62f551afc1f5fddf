//go:build tools

// Keeps pilot-discovery's dependencies in go.mod: the toolchain builds it from this module.
package tools

import _ "istio.io/istio/pilot/cmd/pilot-discovery"
