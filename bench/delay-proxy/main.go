// A TCP proxy that delivers every byte a fixed time after it arrived, in both directions: the
// benchmarks' stand-in for a Kafka cluster in another zone or region, since this machine's kernel
// has no netem. Bandwidth is not limited, and a delayed chunk does not hold back the next one
// beyond its own due time, so a request pipeline sees the round-trip time and nothing else.
//
//	delay-proxy -delay 5ms LISTEN=UPSTREAM [LISTEN=UPSTREAM ...]
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"
)

type chunk struct {
	due  time.Time
	data []byte
}

func main() {
	delay := flag.Duration("delay", 5*time.Millisecond, "one-way delay added to every byte")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: delay-proxy -delay 5ms LISTEN=UPSTREAM [LISTEN=UPSTREAM ...]")
		os.Exit(2)
	}
	for _, pair := range flag.Args() {
		listen, upstream, ok := strings.Cut(pair, "=")
		if !ok {
			log.Fatalf("%q: expected LISTEN=UPSTREAM", pair)
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			log.Fatal(err)
		}
		go serve(ln, upstream, *delay)
	}
	log.Printf("delay-proxy: %d listeners, %s each way", flag.NArg(), *delay)
	select {}
}

func serve(ln net.Listener, upstream string, delay time.Duration) {
	for {
		client, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				log.Printf("%s: %v", upstream, err)
				client.Close()
				return
			}
			go pipe(client, server, delay)
			pipe(server, client, delay)
		}()
	}
}

// pipe copies from src to dst, each chunk written once its due time has come. Reading and writing
// run apart so that the delay is a latency, not a pause between chunks.
func pipe(src, dst net.Conn, delay time.Duration) {
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 64*1024)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			// The other side is gone: closing src ends the reader, which closes the queue.
			src.Close()
			dst.Close()
			for range queue {
			}
			return
		}
	}
	if tcp, ok := dst.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
}
