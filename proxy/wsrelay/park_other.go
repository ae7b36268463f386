//go:build !linux

package wsrelay

import (
	"errors"
	"net"
)

// poller is Linux's (epoll); elsewhere every side keeps a goroutine.
type poller struct{}

func sharedPoller() (*poller, error) { return nil, errors.ErrUnsupported }

func parkableFD(net.Conn) (int, bool) { return 0, false }

func (*poller) add(*side) error { return errors.ErrUnsupported }
func (*poller) remove(*side)    {}

func (*side) readNow([]byte) (int, bool, error) { return 0, false, errors.ErrUnsupported }
func (*side) writeNow([]byte) (int, error)      { return 0, errors.ErrUnsupported }
