// Command freeport prints N TCP ports that are free on an address right now
// (the kernel picks them), one a line, for configs that need a port up front.
//
//	freeport -n 4 -host 127.0.0.1
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	host := flag.String("host", "127.0.0.1", "address to bind")
	flag.Parse()
	var lns []net.Listener
	for i := 0; i < *n; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, "0"))
		if err != nil {
			log.Fatalf("freeport: %v", err)
		}
		lns = append(lns, ln) // held open so that the N ports differ
	}
	for _, ln := range lns {
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
}
