package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/migrate"
)

// Migrate copies the store at from into the empty store at to and
// verifies the copy (gatewayd store migrate). Each is bolt://DATA_DIR or
// etcd://host:port,…/prefix; etcd's TLS and authentication come from c's
// store.etcd. Neither store may be in use by a running gatewayd.
func Migrate(ctx context.Context, c config.Config, from, to string, out io.Writer, log *slog.Logger) error {
	src, err := openURL(ctx, c, from, true, log)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := openURL(ctx, c, to, false, log)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	sp, ok1 := src.(store.Porter)
	dp, ok2 := dst.(store.Porter)
	if !ok1 || !ok2 {
		return fmt.Errorf("migrating between %T and %T is not supported", src, dst)
	}
	rep, err := migrate.Copy(ctx, sp, dp)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Copied and verified %s\nfrom %s\nto   %s\n", rep, from, to)
	return nil
}

// openURL opens the store a migrate URL names; a source must exist.
func openURL(ctx context.Context, c config.Config, u string, source bool, log *slog.Logger) (store.Store, error) {
	if dir, ok := strings.CutPrefix(u, "bolt://"); ok {
		if dir == "" {
			return nil, fmt.Errorf("%q names no data directory (bolt://DATA_DIR)", u)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		c.DataDir, c.Store.Backend = abs, config.StoreBackendBolt
		if source {
			if _, err := os.Stat(Layout{abs}.Store()); err != nil {
				return nil, fmt.Errorf("no store in %s: %w", abs, err)
			}
		}
		s, err := openStore(c, log)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := c.Store.ParseStoreURL(u); err != nil || c.Store.Backend != config.StoreBackendEtcd {
		return nil, fmt.Errorf("%q: want bolt://DATA_DIR or etcd://host:2379,host:2379/prefix", u)
	}
	s, err := openEtcd(ctx, c, log)
	if err != nil {
		return nil, err
	}
	if source {
		if rev, err := s.Revision(ctx); err != nil || rev == 0 {
			_ = s.Close()
			if err == nil {
				err = fmt.Errorf("nothing stored under prefix %s", c.Store.Etcd.Prefix)
			}
			return nil, err
		}
	}
	return s, nil
}
