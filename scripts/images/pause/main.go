// The pod sandbox's only process: it holds the pod's namespaces and waits to be told to stop.
// No registry is reachable, so the stack builds its own instead of pulling registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
