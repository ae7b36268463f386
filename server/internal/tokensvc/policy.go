package tokensvc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/securegw/gateway/internal/jwtkit"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

// Policy defaults.
const (
	DefaultTTL         = time.Hour
	DefaultMaxTTL      = 24 * time.Hour
	DefaultMaxLifetime = 7 * 24 * time.Hour
	// MaxTokenLifetime bounds every duration of a policy.
	MaxTokenLifetime = 366 * 24 * time.Hour
)

// Limit actions.
const (
	LimitRefuse       = "refuse"
	LimitRevokeOldest = "revoke-oldest"
)

var policyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// policy is a decoded token policy with its defaults applied.
type policy struct {
	pb          *gatewayv1.TokenPolicy
	defaultTTL  time.Duration
	maxTTL      time.Duration
	maxLifetime time.Duration
	algorithm   string
	algorithms  []string
	types       []string
}

// selfPolicy bounds tokens issued for oneself without naming a policy.
func (s *Service) selfPolicy() *policy {
	return &policy{
		pb:          &gatewayv1.TokenPolicy{},
		defaultTTL:  DefaultTTL,
		maxTTL:      DefaultMaxTTL,
		maxLifetime: DefaultMaxLifetime,
		algorithm:   s.opts.Algorithm,
		algorithms:  []string{s.opts.Algorithm},
		types:       []string{TypeJWT, TypePasscode},
	}
}

// checkPolicy validates a policy strictly and returns it with defaults
// applied. A stored policy (put by an earlier version) is not held to the
// rules that came with group_source: it keeps issuing what needs no group
// lookup, and what needs one fails closed per request (subjectGroups).
func (s *Service) checkPolicy(pb *gatewayv1.TokenPolicy, stored bool) (*policy, error) {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !policyNameRE.MatchString(pb.GetName()) {
		add("name %q: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", pb.GetName())
	}
	dur := func(field string, d *durationpb.Duration, def time.Duration) time.Duration {
		if d == nil {
			return def
		}
		v := d.AsDuration()
		if v <= 0 || v > MaxTokenLifetime {
			add("%s %s: must be positive and at most %s", field, v, MaxTokenLifetime)
		}
		return v
	}
	p := &policy{pb: pb}
	p.defaultTTL = dur("default_ttl", pb.GetDefaultTtl(), DefaultTTL)
	p.maxTTL = dur("max_ttl", pb.GetMaxTtl(), max(DefaultMaxTTL, p.defaultTTL))
	p.maxLifetime = dur("max_lifetime", pb.GetMaxLifetime(), p.maxTTL)
	if p.defaultTTL > p.maxTTL {
		add("default_ttl %s is above max_ttl %s", p.defaultTTL, p.maxTTL)
	}
	if p.maxTTL > p.maxLifetime {
		add("max_ttl %s is above max_lifetime %s", p.maxTTL, p.maxLifetime)
	}
	p.algorithm = s.opts.Algorithm
	if pb.GetAlgorithm() != "" {
		a, err := jwtkit.CheckAlgorithm(pb.GetAlgorithm())
		if err != nil {
			add("algorithm: %v", err)
		}
		p.algorithm = a
	}
	p.algorithms = []string{p.algorithm}
	for _, a := range pb.GetAllowedAlgorithms() {
		n, err := jwtkit.CheckAlgorithm(a)
		if err != nil {
			add("allowed_algorithms: %v", err)
			continue
		}
		if !slices.Contains(p.algorithms, n) {
			p.algorithms = append(p.algorithms, n)
		}
	}
	p.types = pb.GetTokenTypes()
	if len(p.types) == 0 {
		p.types = []string{TypeJWT}
	}
	for _, t := range p.types {
		if t != TypeJWT && t != TypePasscode {
			add("token_types: %q is not a token type (jwt, passcode)", t)
		}
	}
	if pb.GetPerUserLimit() < 0 {
		add("per_user_limit %d: must not be negative", pb.GetPerUserLimit())
	}
	switch pb.GetLimitAction() {
	case "", LimitRefuse, LimitRevokeOldest:
	default:
		add("limit_action %q: refuse or revoke-oldest", pb.GetLimitAction())
	}
	for _, pat := range pb.GetAllowedSubjects() {
		if err := checkPattern(pat); err != nil {
			add("allowed_subjects: %v", err)
		}
	}
	for field, names := range map[string][]string{
		"allowed_callers": pb.GetAllowedCallers(), "allowed_caller_groups": pb.GetAllowedCallerGroups(),
		"allowed_certificate_subjects": pb.GetAllowedCertificateSubjects(), "allowed_subject_groups": pb.GetAllowedSubjectGroups(),
		"renewers": pb.GetRenewers(), "revokers": pb.GetRevokers(), "audiences": pb.GetAudiences(),
		"topologies": pb.GetTopologies(),
	} {
		for _, n := range names {
			if err := checkName(n); err != nil {
				add("%s: %v", field, err)
			}
		}
	}
	if src := pb.GetGroupSource(); src != "" {
		if err := checkName(src); err != nil {
			add("group_source: %v", err)
		}
	} else if stored {
		// Refused per request when a subject's groups are needed.
	} else if len(pb.GetAllowedSubjectGroups()) > 0 {
		add("allowed_subject_groups needs group_source: the topology whose providers look up a subject's groups")
	} else if pb.GetIncludeGroups() && p.actsForOthers() {
		add("include_groups on a policy that allows tokens on behalf of others needs group_source: the topology whose providers look up a subject's groups")
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, invalid("token policy: " + strings.Join(errs, "; "))
	}
	return p, nil
}

// checkName refuses names that cannot be a principal, group or audience:
// empty, invalid UTF-8, control characters or white space, '*'.
func checkName(n string) error {
	switch {
	case n == "" || len(n) > 256:
		return fmt.Errorf("%q: 1-256 bytes", clip(n))
	case !utf8.ValidString(n):
		return fmt.Errorf("%q is not valid UTF-8", clip(n))
	case strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '*' }):
		return fmt.Errorf("%q: no white space, control characters or '*'", clip(n))
	}
	return nil
}

// checkPattern checks a subject pattern: "*", a name, or a name prefix
// followed by one '*'.
func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	return checkName(strings.TrimSuffix(p, "*"))
}

// matchSubject matches a subject against a pattern, byte for byte: case,
// Unicode look-alikes and '*' in the subject never widen a match.
func matchSubject(pattern, subject string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(subject, prefix)
	}
	return pattern == subject
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// cachedPolicy is a stored policy as the service's view holds it: decoded
// and checked once per revision, not at every issuance.
type cachedPolicy struct {
	p   *policy
	rev int64
	err error // the stored policy does not decode or check
}

// getPolicy returns a policy from the service's view (kept by Reload and
// Apply), or from the store when the view does not have it (yet).
func (s *Service) getPolicy(ctx context.Context, name string) (*policy, int64, error) {
	if v, ok := s.policies.Load(name); ok {
		c := v.(*cachedPolicy)
		return c.p, c.rev, c.err
	}
	o, err := s.st.GetObject(ctx, store.KindTokenPolicy, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, notFound(fmt.Sprintf("token policy %q does not exist", name))
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading token policy %q: %w", name, err)
	}
	c := s.decodePolicy(o)
	return c.p, c.rev, c.err
}

// decodePolicy decodes and checks a stored policy.
func (s *Service) decodePolicy(o store.Object) *cachedPolicy {
	var pb gatewayv1.TokenPolicy
	if err := protojson.Unmarshal(o.Value, &pb); err != nil {
		return &cachedPolicy{err: fmt.Errorf("decoding token policy %q: %w", o.Key, err)}
	}
	p, err := s.checkPolicy(&pb, true)
	if err != nil {
		return &cachedPolicy{err: fmt.Errorf("stored token policy %q: %w", o.Key, err)}
	}
	return &cachedPolicy{p: p, rev: o.Revision}
}

// PutPolicy stores a policy (compare-and-set on expect; store.NoRevisionCheck: any).
func (s *Service) PutPolicy(ctx context.Context, pb *gatewayv1.TokenPolicy, expect int64) (int64, error) {
	if _, err := s.checkPolicy(pb, false); err != nil {
		return 0, err
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		return 0, err
	}
	o, err := s.st.PutObject(ctx, store.Object{Kind: store.KindTokenPolicy, Key: pb.GetName(), Value: b}, expect)
	if err != nil {
		return 0, fmt.Errorf("storing token policy %q: %w", pb.GetName(), err)
	}
	return o.Revision, s.waitFor(ctx, o.Revision)
}

// GetPolicy returns a stored policy and its revision.
func (s *Service) GetPolicy(ctx context.Context, name string) (*gatewayv1.TokenPolicy, int64, error) {
	p, rev, err := s.getPolicy(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return p.pb, rev, nil
}

// ListPolicies returns every policy, by name.
func (s *Service) ListPolicies(ctx context.Context) ([]*gatewayv1.TokenPolicy, error) {
	objs, err := s.st.ListObjects(ctx, store.KindTokenPolicy, "")
	if err != nil {
		return nil, fmt.Errorf("listing token policies: %w", err)
	}
	out := make([]*gatewayv1.TokenPolicy, 0, len(objs))
	for _, o := range objs {
		var pb gatewayv1.TokenPolicy
		if err := protojson.Unmarshal(o.Value, &pb); err != nil {
			return nil, fmt.Errorf("decoding token policy %q: %w", o.Key, err)
		}
		out = append(out, &pb)
	}
	return out, nil
}

// DeletePolicy deletes a policy. Tokens issued under it keep their state.
func (s *Service) DeletePolicy(ctx context.Context, name string) error {
	rev, err := s.st.DeleteObject(ctx, store.KindTokenPolicy, name, store.NoRevisionCheck)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("token policy %q does not exist", name))
	}
	if err != nil {
		return fmt.Errorf("deleting token policy %q: %w", name, err)
	}
	return s.waitFor(ctx, rev)
}

// callerAllowed reports whether the policy lets c request tokens on behalf
// of others.
func (p *policy) callerAllowed(c Caller) bool {
	if c.Management {
		return slices.Contains(p.pb.GetAllowedCertificateSubjects(), c.Name)
	}
	if slices.Contains(p.pb.GetAllowedCallers(), c.Name) {
		return true
	}
	return slices.ContainsFunc(c.Groups, func(g string) bool { return slices.Contains(p.pb.GetAllowedCallerGroups(), g) })
}

// actsForOthers reports whether the policy names anyone who may request
// tokens on behalf of others.
func (p *policy) actsForOthers() bool {
	return len(p.pb.GetAllowedCallers())+len(p.pb.GetAllowedCallerGroups())+len(p.pb.GetAllowedCertificateSubjects()) > 0
}

// subjectNamed reports whether the policy's allowed_subjects match subject.
func (p *policy) subjectNamed(subject string) bool {
	return slices.ContainsFunc(p.pb.GetAllowedSubjects(), func(pat string) bool { return matchSubject(pat, subject) })
}

// subjectInGroups reports whether one of groups (the subject's, as the
// policy's group source tells them) is in allowed_subject_groups.
func (p *policy) subjectInGroups(groups []string) bool {
	return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(p.pb.GetAllowedSubjectGroups(), g) })
}
