// Command etcd: the etcd server, built from go.etcd.io/etcd/server/v3 (whose own go.mod has replaces,
// so `go install` of it fails; a main of our own that calls etcdmain works).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
