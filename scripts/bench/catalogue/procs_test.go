package main

import (
	"os"
	"strings"
	"testing"
)

// Excerpts of a Linux 6.x machine's /proc/net/snmp and /proc/net/netstat
// (the TcpExt pair shortened, names and values still in step).
const (
	snmpFixture = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 815965007 0 0 0 0 0 815965007 795829942 0 0 0 0 0 0 0 0 0 795829942
IcmpMsg: InType3 OutType3
IcmpMsg: 7 7
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 5521945 2271921 3249297 634456 6 816002566 815967670 250607 0 3711407 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 24672 0 0 24701 0 0 0 0 0
`
	netstatFixture = `TcpExt: SyncookiesSent SyncookiesRecv PruneCalled TW DelayedACKs TCPSACKReorder TCPTimeouts TCPDSACKOldSent TCPDSACKRecv TCPOFOQueue TCPDSACKRecvSegs
TcpExt: 0 0 1323 1965480 7053729 4918 125401 236883 143209 13745662 150746
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InOctets OutOctets
IpExt: 0 0 0 0 5745793912890 18446744073709551615
`
)

func TestParseTCPCounters(t *testing.T) {
	tcpLine := "Tcp: 1 200 120000 -1 5521945 2271921 3249297 634456 6 816002566 815967670 250607 0 3711407 0"
	tests := []struct {
		name          string
		snmp, netstat string
		want          tcpCounters
		err           string // a part of the error; "" for none
	}{
		{name: "real", snmp: snmpFixture, netstat: netstatFixture,
			want: tcpCounters{Retrans: 250607, DSACK: 143209, OFO: 13745662}},
		{name: "no trailing newline", snmp: strings.TrimSuffix(snmpFixture, "\n"), netstat: strings.TrimSuffix(netstatFixture, "\n"),
			want: tcpCounters{Retrans: 250607, DSACK: 143209, OFO: 13745662}},
		{name: "missing counter", snmp: snmpFixture,
			netstat: strings.Replace(strings.Replace(netstatFixture, " TCPOFOQueue", "", 1), " 13745662", "", 1),
			err:     "no counter TcpExt:TCPOFOQueue"},
		{name: "missing section", snmp: strings.Replace(snmpFixture, "Tcp:", "Tcq:", 2), netstat: netstatFixture,
			err: "no counter Tcp:RetransSegs"},
		{name: "fewer values than names", snmp: strings.Replace(snmpFixture, tcpLine, strings.TrimSuffix(tcpLine, " 0"), 1), netstat: netstatFixture,
			err: "/proc/net/snmp: line 6: 14 values for 15 names of Tcp:"},
		{name: "more values than names", snmp: snmpFixture, netstat: strings.Replace(netstatFixture, " 150746", " 150746 9", 1),
			err: "/proc/net/netstat: line 2: 12 values for 11 names of TcpExt:"},
		{name: "value not a number", snmp: strings.Replace(snmpFixture, " 250607 ", " 25o607 ", 1), netstat: netstatFixture,
			err: `line 6: Tcp:RetransSegs: "25o607" is not a counter`},
		{name: "value a float", snmp: strings.Replace(snmpFixture, " 250607 ", " 2.5e5 ", 1), netstat: netstatFixture,
			err: `"2.5e5" is not a counter`},
		{name: "values of another prefix", snmp: strings.Replace(snmpFixture, "Tcp: 1 200", "Udp: 1 200", 1), netstat: netstatFixture,
			err: "line 6: the values of Tcp: are missing"},
		{name: "names without values", snmp: snmpFixture, netstat: netstatFixture + "MPTcpExt: MPCapableSYNRX MPCapableSYNTX\n",
			err: "line 5: the values of MPTcpExt: are missing"},
		{name: "a lost line shifts the pairs", snmp: strings.Replace(snmpFixture, "IcmpMsg: 7 7\n", "", 1), netstat: netstatFixture,
			err: "line 4: the values of IcmpMsg: are missing"},
		{name: "not a names line", snmp: "garbage\n" + snmpFixture, netstat: netstatFixture,
			err: `line 1: "garbage" is not a names line`},
		{name: "name given twice", snmp: snmpFixture + "Tcp: RetransSegs\nTcp: 1\n", netstat: netstatFixture,
			err: "Tcp:RetransSegs given twice"},
		{name: "empty file", snmp: snmpFixture, netstat: "",
			err: "/proc/net/netstat: no counters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTCPCounters(strings.NewReader(tc.snmp), strings.NewReader(tc.netstat))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v (counters %+v), want one with %q", err, got, tc.err)
			case tc.err != "" && got != (tcpCounters{}):
				t.Fatalf("counters %+v with the error, want none", got)
			case got != tc.want:
				t.Fatalf("counters %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Where the kernel has them (Linux), the machine's own files parse, with
// every counter.
func TestReadTCPCountersHere(t *testing.T) {
	for _, f := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no %s: %v", f, err)
		}
	}
	if c, ok := readTCPCounters(); !ok || c.Retrans < 0 || c.DSACK < 0 || c.OFO < 0 {
		t.Fatalf("the machine's counters: %+v, ok %v", c, ok)
	}
}
