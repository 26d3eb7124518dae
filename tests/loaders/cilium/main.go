// A loader built on cilium/ebpf (the Go library), as a Go user's program loads BPF:
// every program of an object file, at a verifier log level, printing what the library
// gives: for a rejected program its *ebpf.VerifierError formatted with %+v (every line)
// or with %-20v (its last 20 lines, after cilium's "(N line(s) omitted)"); for an
// accepted one the verifier log the library keeps (Program.VerifierLog). "summary" prints
// the error with %v, as log.Fatal(err) does: one line, the log's last lines only.
//
//	vdoctor-cilium-loader OBJECT LEVEL full|tail|summary
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/cilium/ebpf"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: vdoctor-cilium-loader OBJECT LEVEL full|tail|summary")
		os.Exit(2)
	}
	level, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "LEVEL:", err)
		os.Exit(2)
	}
	spec, err := ebpf.LoadCollectionSpec(os.Args[1])
	if err != nil {
		fmt.Printf("%v\n", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	status := 0
	for _, name := range names {
		coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
			Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{name: spec.Programs[name]}, Types: spec.Types,
		}, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: uint32(level), LogSize: 64 << 20}})
		if err != nil {
			status = 1
			// As cilium/ebpf's documentation shows: errors.As, then %+v or %-Nv.
			var verr *ebpf.VerifierError
			switch {
			case !errors.As(err, &verr) || os.Args[3] == "summary":
				fmt.Printf("%v\n", err) // log.Fatal(err) prints this one line
			case os.Args[3] == "tail":
				fmt.Printf("%s: %-20v\n", name, verr)
			default:
				fmt.Printf("%s: %+v\n", name, verr)
			}
			continue
		}
		fmt.Print(coll.Programs[name].VerifierLog)
		coll.Close()
	}
	os.Exit(status)
}
