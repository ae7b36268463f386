package daemon

import (
	"log/slog"
	"math"
	"os"

	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/server/internal/gctune"
)

// applyRuntime sets the Go collector from gateway.yaml's runtime section
// (GOGC and GOMEMLIMIT in the environment win) and logs what is in effect.
func applyRuntime(r config.Runtime, log *slog.Logger) {
	a := gctune.Apply(gctune.Settings{
		GCPercent:   r.GCPercent,
		MinHeap:     int64(r.MinHeap),
		MemoryLimit: int64(r.MemoryLimit),
	}, os.Getenv)
	limit := "none"
	if a.MemoryLimit != math.MaxInt64 {
		limit = config.ByteSize(a.MemoryLimit).String()
	}
	log.Info("go collector", "gc_percent", a.GCPercent, "min_heap", config.ByteSize(a.MinHeap).String(),
		"memory_limit", limit, "gogc_from_env", a.GCPercentEnv, "gomemlimit_from_env", a.MemoryLimitEnv)
}
