package kerberos_test

import "github.com/securegw/gateway/proxy/chain/replay"

func newReplay() *replay.Cache { return replay.New(1024, nil) }
