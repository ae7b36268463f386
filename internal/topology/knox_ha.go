package topology

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// standbyRole reports whether the backends of role tell a standby by
// their answer, on which Knox's HA dispatch for the role fails over: a
// Hadoop namenode's 403 StandbyException (WEBHDFS: WebHdfsHaDispatch), a
// YARN ResourceManager's redirect to the active one (the roles
// ResourceManagerRole names: RMHaDispatch, RMUIHaDispatch, RMUI2HaDispatch,
// RMSchedulerUIHaDispatch).
func standbyRole(role string) bool { return role == "WEBHDFS" || ResourceManagerRole(role) }

// ResourceManagerRole reports whether the services of role are served by
// YARN ResourceManagers, whose standby answers requests with a redirect to
// the active one: with ha.failover_on_standby such an answer fails over
// (see HA.FailoverOnStandby). Case does not matter.
func ResourceManagerRole(role string) bool {
	switch strings.ToUpper(role) {
	case "RESOURCEMANAGER", "YARNUI", "YARNUIV2", "YARN-SCHEDULER-UI":
		return true
	}
	return false
}

// convertHA turns an enabled Knox HaProvider into per-service failover
// and removes it (it is not a provider here). Each provider param names a
// service role; its value is Knox's "key=value;key=value" list. For each
// role enabled (enabled=true, Knox's default), every service of that role
// fails over between its URLs as every multi-URL service does (connection
// errors; ha.failover_statuses for replayable requests), and a WEBHDFS
// service also on a standby namenode's 403 StandbyException, a
// RESOURCEMANAGER, YARNUI, YARNUIV2 or YARN-SCHEDULER-UI service on a
// standby ResourceManager's redirect to the active one
// (ha.failover_on_standby). Knox settings:
//
//   - enabled: true or false; false leaves the role without HA.
//   - maxFailoverAttempts: the gateway tries each URL of the service at
//     most once per request; a value below (URLs - 1) is a warning.
//   - maxRetryAttempts, retrySleep (WEBHDFS): a namenode's 403
//     SafeModeException or RetriableException is retried on the same URL
//     up to maxRetryAttempts times (ha.safe_mode_retries, at most
//     MaxSafeModeRetries: a larger value is capped, with a warning),
//     retrySleep milliseconds apart (ha.safe_mode_retry_sleep; Knox's
//     default 1000 when absent; at most MaxSafeModeRetrySleep). Unset or 0:
//     no retry, the answer reaches the client (Knox since 1.2 ignores both
//     and fails over instead; they are honoured as Knox 1.1 and earlier did,
//     the only Knox that retried). retrySleep without maxRetryAttempts, or
//     either for another role: a warning.
//   - failoverSleep: not honoured (the gateway fails over at once): a
//     warning when above 0.
//   - enableLoadBalancing, enableStickySession, noFallback,
//     failoverNonIdempotentRequestEnabled: not honoured (the first healthy
//     URL serves; requests that cannot be replayed never fail over once
//     sent): a warning when true.
//   - stickySessionCookieName, disableLoadBalancingForUserAgents: only
//     refine the above; ignored.
//   - zookeeperEnsemble, zookeeperNamespace: URLs are not discovered from
//     ZooKeeper, the service's <url>s are used: a warning.
//
// Other keys are a warning (Knox ignores them too). A malformed value, or
// a pair without "=", is a problem naming the role and the key.
func convertHA(t *Topology) {
	for i := 0; i < len(t.Providers); i++ {
		p := t.Providers[i]
		if p.Role != "ha" || p.Name != "ha" || !p.IsEnabled() {
			continue // a disabled one stays, for Validate to warn about
		}
		field := fmt.Sprintf("providers[%d]", i)
		for _, role := range slices.Sorted(maps.Keys(p.Params)) {
			haRole(t, p, fmt.Sprintf("%s.params[%q]", field, truncate(role, 64)), role, p.Params[role])
		}
		t.Providers = slices.Delete(t.Providers, i, i+1)
		i--
	}
}

// haRole applies one HaProvider param: role, Knox's settings for it.
func haRole(t *Topology, p Provider, field, role, value string) {
	problem := func(format string, args ...any) {
		t.conv.problems = append(t.conv.problems, FieldError{Field: field, Line: p.Line, Msg: fmt.Sprintf(format, args...)})
	}
	role = strings.ToUpper(strings.TrimSpace(role))
	enabled := true
	maxFailover, maxRetry, retrySleep := -1, -1, -1
	var ignored, unknown []string
	ok := true
	for _, pair := range strings.Split(value, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, found := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !found || k == "" {
			problem("%q is not key=value (Knox HaProvider settings are key=value pairs separated by ;)", truncate(pair, 64))
			ok = false
			continue
		}
		switch k {
		case "enabled", "enableLoadBalancing", "enableStickySession", "noFallback", "failoverNonIdempotentRequestEnabled":
			b, err := parseKnoxBool(v)
			if err != nil {
				problem("%s: %v", k, err)
				ok = false
				continue
			}
			if k == "enabled" {
				enabled = b
			} else if b {
				ignored = append(ignored, k+"="+v)
			}
		case "maxFailoverAttempts", "failoverSleep", "maxRetryAttempts", "retrySleep":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				problem("%s: %q is not a non-negative integer", k, truncate(v, 40))
				ok = false
				continue
			}
			switch {
			case k == "maxFailoverAttempts":
				maxFailover = n
			case k == "maxRetryAttempts" && role == "WEBHDFS":
				maxRetry = n
			case k == "retrySleep" && role == "WEBHDFS":
				retrySleep = n
			case n > 0:
				ignored = append(ignored, k+"="+v)
			}
		case "zookeeperEnsemble", "zookeeperNamespace":
			ignored = append(ignored, k)
		case "stickySessionCookieName", "disableLoadBalancingForUserAgents":
		default:
			unknown = append(unknown, truncate(k, 40))
		}
	}
	if !ok || !enabled {
		return
	}
	warn := func(format string, args ...any) {
		t.conv.warnings = append(t.conv.warnings, fmt.Sprintf("%s%s: HaProvider %s: ", field, lineSuffix(p.Line), role)+fmt.Sprintf(format, args...))
	}
	if len(ignored) > 0 {
		warn("%s not honoured: the gateway fails over at once to the next healthy URL, retries one URL only on a WEBHDFS namenode's safe-mode answer, never balances load, "+
			"never fails over a request that cannot be replayed once sent, and uses the service's <url>s (no ZooKeeper discovery)", strings.Join(ignored, ", "))
	}
	if len(unknown) > 0 {
		warn("unknown settings ignored: %s", strings.Join(unknown, ", "))
	}
	retries, sleep := safeModeRetry(maxRetry, retrySleep, warn)
	for j := range t.Services {
		s := &t.Services[j]
		if s.Role != role {
			continue
		}
		if maxFailover >= 0 && maxFailover < len(s.URLs)-1 {
			warn("maxFailoverAttempts=%d not honoured: the gateway tries each of the service's %d URLs once per request", maxFailover, len(s.URLs))
		}
		if s.HA == nil {
			s.HA = &HA{}
		}
		if standbyRole(role) {
			s.HA.FailoverOnStandby = true
			s.HA.SafeModeRetries, s.HA.SafeModeRetrySleep = retries, sleep
		}
	}
}

// knoxRetrySleep is Knox's retrySleep default, in milliseconds.
const knoxRetrySleep = 1000

// safeModeRetry turns Knox's maxRetryAttempts and retrySleep (-1: absent)
// into ha.safe_mode_retries and ha.safe_mode_retry_sleep, capped, warning
// about what is not honoured as written.
func safeModeRetry(maxRetry, retrySleep int, warn func(string, ...any)) (int, Duration) {
	if maxRetry <= 0 {
		if retrySleep > 0 {
			warn("retrySleep=%d not honoured without maxRetryAttempts: a namenode's safe-mode answer reaches the client", retrySleep)
		}
		return 0, 0
	}
	if maxRetry > MaxSafeModeRetries {
		warn("maxRetryAttempts=%d capped at %d: a request retries a namenode in safe mode at most %d times", maxRetry, MaxSafeModeRetries, MaxSafeModeRetries)
		maxRetry = MaxSafeModeRetries
	}
	if retrySleep < 0 {
		retrySleep = knoxRetrySleep
	}
	if limit := int(MaxSafeModeRetrySleep.Milliseconds()); retrySleep > limit {
		warn("retrySleep=%d capped at %d (milliseconds)", retrySleep, limit)
		retrySleep = limit
	}
	return maxRetry, Duration(time.Duration(retrySleep) * time.Millisecond)
}
