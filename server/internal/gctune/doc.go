// Package gctune applies gateway.yaml's runtime section to the Go runtime's
// collector: its percentage (GOGC), a soft memory limit (GOMEMLIMIT) and a
// heap floor (min_heap), which Go has no setting for.
//
// Why a floor: the data path allocates a few KiB per request while the live
// heap of a gateway with few topologies is a few MiB. With GOGC=100 the
// collector then runs every few MiB allocated, about ten times a second at
// half of the gateway's saturation on two cores, and every cycle stops the
// world twice and takes a share of the CPU for its marking while requests
// wait; those cycles are on the p99. A larger GOGC spaces them out but
// multiplies the heap of a gateway with many topologies too. The floor only
// lifts a small heap: after every cycle the percentage is raised so that the
// next cycle starts at about max(live × (1 + gc_percent/100), min_heap);
// once the live heap is large, gc_percent applies as it is.
//
// GOGC and GOMEMLIMIT in the environment win over the file: GOGC set leaves
// the percentage and the floor to it, GOMEMLIMIT the limit.
package gctune
