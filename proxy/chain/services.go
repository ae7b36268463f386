package chain

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// ServiceConfig is what a gateway-served service (a topology service of a
// role the gateway answers itself: KNOXTOKEN, KNOXSSO) is built from.
type ServiceConfig struct {
	Config
	// Path is the service's path in the topology ("knoxtoken"); its
	// endpoints live under it, except those a service must place at the
	// topology's root (an OpenID discovery document).
	Path string
	// Inbound runs the topology's inbound chain on r (authentication,
	// identity assertion, authorization): the request to continue with,
	// carrying the principal, or nil once it answered through w. A login
	// page uses it to check the credentials a form posted.
	Inbound func(w http.ResponseWriter, r *http.Request) *http.Request
}

// ServiceFactory builds a gateway-served service's endpoints for a
// topology; their paths are relative to the topology's root.
type ServiceFactory struct {
	Role string // upper case, as topology.ServiceRoleKind knows it
	New  func(ctx context.Context, c ServiceConfig) ([]Endpoint, error)
}

var (
	svcMu       sync.RWMutex
	svcRegistry = map[string]ServiceFactory{}
)

// RegisterService registers a gateway-served service; it panics on an
// empty or duplicate role.
func RegisterService(f ServiceFactory) {
	if f.Role == "" || f.New == nil {
		panic("chain: RegisterService: a service needs a role and New")
	}
	svcMu.Lock()
	defer svcMu.Unlock()
	role := strings.ToUpper(f.Role)
	if _, dup := svcRegistry[role]; dup {
		panic(fmt.Sprintf("chain: RegisterService: duplicate service %q", role))
	}
	svcRegistry[role] = f
}

// LookupService returns the factory of a gateway-served service role.
func LookupService(role string) (ServiceFactory, bool) {
	svcMu.RLock()
	defer svcMu.RUnlock()
	f, ok := svcRegistry[strings.ToUpper(role)]
	return f, ok
}
