package daemon

import (
	"fmt"
	"log/slog"

	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/store"
)

// openBackend opens the store that store.backend names.
func openBackend(c config.Config, log *slog.Logger) (store.Store, error) {
	switch c.Store.Backend {
	case config.StoreBackendBolt:
		s, err := openStore(c, log)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	default: // config.Validate refuses it first
		return nil, fmt.Errorf("store.backend: %q is not supported (supported: %s)", c.Store.Backend, config.StoreBackendBolt)
	}
}
