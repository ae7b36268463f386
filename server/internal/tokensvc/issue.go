package tokensvc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/server/internal/api"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// Caller is who asks the token service for something.
type Caller struct {
	Name   string
	Groups []string
	// Management: the caller is a management client certificate (its
	// common name is Name), matched by a policy's
	// allowed_certificate_subjects; otherwise a principal a topology's
	// providers authenticated, matched by allowed_callers and groups.
	Management bool
	// Admin callers may renew, revoke and list any token.
	Admin bool
	// Actors is the act chain of the token the caller authenticated with,
	// outermost first (the caller was itself acting for someone).
	Actors []string
}

// Request asks for a token.
type Request struct {
	Policy     string
	OnBehalfOf string
	TTL        time.Duration
	Audiences  []string
	Comment    string
	Type       string
	Algorithm  string
	Metadata   map[string]string
	// HMACSecret: sign with HS256 and this secret (a topology's alias),
	// for topology Topology, which asked for it explicitly; the gateway's
	// keys and the policy's algorithms do not apply.
	HMACSecret []byte
	Topology   string
}

// MinHMACSecret is the shortest HS256 secret accepted (RFC 7518 §3.2: at
// least the hash's size).
const MinHMACSecret = 32

// Issued is a new token: its value (shown once) and its state.
type Issued struct {
	Token string
	State *State
}

var issueSeed = maphash.MakeSeed()

// Issue issues a token for the caller, or on behalf of req.OnBehalfOf when
// the policy allows the caller to act for that subject.
func (s *Service) Issue(ctx context.Context, c Caller, req Request) (*Issued, error) {
	if err := checkName(c.Name); err != nil {
		return nil, denied("caller: " + err.Error())
	}
	p := s.selfPolicy()
	if req.Policy != "" {
		var err error
		if p, _, err = s.getPolicy(ctx, req.Policy); err != nil {
			return nil, err
		}
	}
	subject := c.Name
	obo := req.OnBehalfOf != "" && req.OnBehalfOf != c.Name
	if obo {
		subject = req.OnBehalfOf
		if err := checkName(subject); err != nil {
			return nil, invalid("on-behalf-of subject: " + err.Error())
		}
		if req.Policy == "" {
			return nil, denied("issuing on behalf of another subject needs a token policy that allows it")
		}
		if !p.callerAllowed(c) {
			return nil, denied(fmt.Sprintf("token policy %q does not allow %q to request tokens on behalf of others", req.Policy, c.Name))
		}
	}
	groups := c.Groups
	if obo {
		named := p.subjectNamed(subject)
		groups = nil
		if p.pb.GetIncludeGroups() || (!named && len(p.pb.GetAllowedSubjectGroups()) > 0) {
			var err error
			if groups, err = s.subjectGroups(ctx, p, subject); err != nil {
				return nil, err
			}
		}
		if !named && !p.subjectInGroups(groups) {
			return nil, denied(fmt.Sprintf("token policy %q does not allow tokens on behalf of %q", req.Policy, subject))
		}
	}
	typ := req.Type
	if typ == "" {
		typ = TypeJWT
	}
	if !slices.Contains(p.types, typ) {
		return nil, invalid(fmt.Sprintf("token type %q is not allowed by the policy (allowed: %s)", typ, strings.Join(p.types, ", ")))
	}
	alg := p.algorithm
	hmac := len(req.HMACSecret) > 0
	if hmac {
		switch {
		case typ != TypeJWT:
			return nil, invalid("an HS256 secret signs JWTs only")
		case len(req.HMACSecret) < MinHMACSecret:
			return nil, invalid(fmt.Sprintf("the HS256 secret must be at least %d bytes", MinHMACSecret))
		case req.Topology == "":
			return nil, invalid("an HS256 token needs the topology that asked for it")
		case req.Algorithm != "" && req.Algorithm != "HS256":
			return nil, invalid(fmt.Sprintf("algorithm %s: this topology signs its tokens with HS256", req.Algorithm))
		case len(p.pb.GetTopologies()) > 0 && !slices.Contains(p.pb.GetTopologies(), req.Topology):
			return nil, invalid(fmt.Sprintf("token policy %q does not name topology %q, whose HS256 tokens only it accepts", req.Policy, req.Topology))
		}
		alg = "HS256"
	} else if req.Algorithm != "" {
		a, err := jwtkit.CheckAlgorithm(req.Algorithm)
		if err != nil {
			return nil, invalid(err.Error())
		}
		if !slices.Contains(p.algorithms, a) {
			return nil, invalid(fmt.Sprintf("algorithm %s is not allowed by the policy (allowed: %s)", a, strings.Join(p.algorithms, ", ")))
		}
		alg = a
	}
	ttl := req.TTL
	switch {
	case ttl == 0:
		ttl = p.defaultTTL
	case ttl < 0:
		return nil, invalid("the lifespan must be positive")
	case ttl > p.maxTTL:
		return nil, invalid(fmt.Sprintf("lifespan %s is above the policy maximum %s", ttl, p.maxTTL))
	}
	aud := req.Audiences
	if len(aud) == 0 {
		aud = p.pb.GetAudiences()
	} else if allowed := p.pb.GetAudiences(); len(allowed) > 0 {
		for _, a := range aud {
			if !slices.Contains(allowed, a) {
				return nil, invalid(fmt.Sprintf("audience %q is not allowed by the policy (allowed: %s)", a, strings.Join(allowed, ", ")))
			}
		}
	}
	for _, a := range aud {
		if err := checkName(a); err != nil {
			return nil, invalid("audience: " + err.Error())
		}
	}
	if len(req.Comment) > 1024 || len(req.Metadata) > 32 {
		return nil, invalid("comment (1024 bytes) or metadata (32 entries) too large")
	}
	if !p.pb.GetIncludeGroups() {
		groups = nil
	}

	if limit := int(p.pb.GetPerUserLimit()); limit > 0 {
		// One limited issuance per subject at a time: the limit counts
		// what the previous one stored. Unlimited ones run concurrently
		// (and share fsyncs).
		mu := &s.issueMu[maphash.String(issueSeed, subject)%uint64(len(s.issueMu))]
		mu.Lock()
		defer mu.Unlock()
		if err := s.enforceLimit(ctx, p, subject, limit); err != nil {
			return nil, err
		}
	}

	now := s.now().UTC().Truncate(time.Second)
	st := &State{
		ID:         newID(),
		Subject:    subject,
		Creator:    c.Name,
		Policy:     req.Policy,
		Type:       typ,
		Audiences:  aud,
		IssuedAt:   now,
		ExpiresAt:  now.Add(ttl),
		MaxAt:      now.Add(max(ttl, p.maxLifetime)),
		Topologies: p.pb.GetTopologies(),
		Comment:    req.Comment,
		Metadata:   req.Metadata,
		ActorChain: nil,
	}
	if obo {
		st.ActorChain = append([]string{c.Name}, c.Actors...)
	} else if len(c.Actors) > 0 {
		st.ActorChain = slices.Clone(c.Actors)
	}
	var token string
	switch {
	case hmac:
		// Bound to the topology that holds the secret (a policy's
		// topologies do not widen it).
		st.Algorithm, st.Topologies = alg, []string{req.Topology}
		var err error
		if token, err = jwtkit.Sign(alg, "", req.HMACSecret, s.claims(st, groups)); err != nil {
			return nil, fmt.Errorf("signing the token: %w", err)
		}
	case typ == TypeJWT:
		k, err := s.activeKey(ctx, alg)
		if err != nil {
			return nil, err
		}
		st.Algorithm, st.KeyID = alg, k.Kid
		if token, err = jwtkit.Sign(alg, k.Kid, k.signer, s.claims(st, groups)); err != nil {
			return nil, fmt.Errorf("signing the token: %w", err)
		}
	case typ == TypePasscode:
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		sum := sha256.Sum256(secret)
		st.PasscodeHash = sum[:]
		token = encodePasscode(st.ID, secret)
	}
	if err := s.putNew(ctx, st); err != nil {
		return nil, err
	}
	return &Issued{Token: token, State: st}, nil
}

// subjectGroups asks the policy's group source for an on-behalf-of
// subject's groups. Any failure refuses the issuance (fails closed): the
// caller learns which source failed, the log why.
func (s *Service) subjectGroups(ctx context.Context, p *policy, subject string) ([]string, error) {
	src := p.pb.GetGroupSource()
	if src == "" || s.opts.Groups == nil {
		return nil, refusedf(fmt.Sprintf("token policy %q needs the groups of %q but names no group_source; nothing was issued", p.pb.GetName(), subject))
	}
	groups, err := s.opts.Groups(ctx, src, subject)
	if err != nil {
		s.log.WarnContext(ctx, "token issuance refused: the subject's groups could not be looked up",
			"policy", p.pb.GetName(), "subject", subject, "group_source", src, "err", err)
		return nil, apierr.Errorf(apierr.Unavailable, "the groups of %q could not be looked up in topology %q (token policy %q's group_source); nothing was issued", subject, src, p.pb.GetName())
	}
	return groups, nil
}

// claims are a JWT's claims for st.
func (s *Service) claims(st *State, groups []string) jwt.MapClaims {
	m := jwt.MapClaims{
		"iss": s.opts.Issuer,
		"sub": st.Subject,
		"iat": st.IssuedAt.Unix(),
		"nbf": st.IssuedAt.Unix(),
		"exp": st.MaxAt.Unix(),
		"jti": st.ID,
	}
	switch len(st.Audiences) {
	case 0:
	case 1:
		m["aud"] = st.Audiences[0]
	default:
		m["aud"] = st.Audiences
	}
	if len(groups) > 0 {
		m["groups"] = groups
	}
	// RFC 8693 §4.1: the current actor outermost, prior actors nested.
	var act map[string]any
	for i := len(st.ActorChain) - 1; i >= 0; i-- {
		a := map[string]any{"sub": st.ActorChain[i]}
		if act != nil {
			a["act"] = act
		}
		act = a
	}
	if act != nil {
		m["act"] = act
	}
	return m
}

// enforceLimit applies the policy's per-user limit before an issuance.
func (s *Service) enforceLimit(ctx context.Context, p *policy, subject string, limit int) error {
	now := s.now()
	var live []*State
	for _, st := range s.subjectTokens(subject) {
		if st.Policy == p.pb.GetName() && st.live(now) {
			live = append(live, st)
		}
	}
	if len(live) < limit {
		return nil
	}
	if p.pb.GetLimitAction() != LimitRevokeOldest {
		return refusedf(fmt.Sprintf("%q has %d live tokens under policy %q, the limit", subject, len(live), p.pb.GetName()))
	}
	slices.SortFunc(live, func(a, b *State) int { return a.IssuedAt.Compare(b.IssuedAt) })
	for _, st := range live[:len(live)-limit+1] {
		if err := s.update(ctx, st.ID, func(st *State) error { st.Revoked = true; return nil }); err != nil {
			return fmt.Errorf("revoking the oldest token of %q: %w", subject, err)
		}
	}
	return nil
}

// put stores st (expect: its object's revision; 0 for a new token) and
// waits until it is live.
func (s *Service) put(ctx context.Context, st *State, expect int64) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	o, err := s.st.PutObject(ctx, store.Object{Kind: store.KindToken, Key: st.ID, Value: b}, expect)
	if err != nil {
		return fmt.Errorf("storing token state: %w", err)
	}
	return s.waitFor(ctx, o.Revision)
}

// auditedPutter is a store that writes an object and an audit record in
// one commit (the bbolt store).
type auditedPutter interface {
	PutObjectAudited(ctx context.Context, o store.Object, expect int64, r store.AuditRecord) (store.Object, int64, error)
}

// putNew stores a new token's state and waits until it is live. Under a
// management call, the call's audit record goes in the same commit when the
// store can do that: one fsync for the token and its record.
func (s *Service) putNew(ctx context.Context, st *State) error {
	ap, ok := s.st.(auditedPutter)
	if !ok {
		return s.put(ctx, st, 0)
	}
	rec, written, ok := api.PendingAudit(ctx, "token/"+st.ID)
	if !ok {
		return s.put(ctx, st, 0)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	o, seq, err := ap.PutObjectAudited(ctx, store.Object{Kind: store.KindToken, Key: st.ID, Value: b}, 0, rec)
	if err != nil {
		return fmt.Errorf("storing token state: %w", err)
	}
	written(seq)
	return s.waitFor(ctx, o.Revision)
}

// update changes a token's stored state with edit (compare-and-set,
// retried when another writer won).
func (s *Service) update(ctx context.Context, id string, edit func(*State) error) error {
	for range 5 {
		o, err := s.st.GetObject(ctx, store.KindToken, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound(fmt.Sprintf("token %s does not exist", clip(id)))
			}
			return fmt.Errorf("reading token state: %w", err)
		}
		st, err := decodeState(o.Value)
		if err != nil {
			return fmt.Errorf("decoding token state: %w", err)
		}
		if err := edit(st); err != nil {
			return err
		}
		err = s.put(ctx, st, o.Revision)
		if err == nil || !errors.Is(err, store.ErrRevisionMismatch) {
			return err
		}
	}
	return refusedf("token " + id + " is changing concurrently; try again")
}

// newID returns a UUID in Knox's form: version 7 (RFC 9562), the time in
// milliseconds then 74 random bits, so that new token state is appended to
// the end of the store's index (a few pages written per commit, however
// many tokens it holds) rather than scattered over it.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// A passcode is, as Knox's, base64(base64(id) "::" base64(secret)).
func encodePasscode(id string, secret []byte) string {
	std := base64.StdEncoding
	return std.EncodeToString([]byte(std.EncodeToString([]byte(id)) + "::" + std.EncodeToString(secret)))
}

func decodePasscode(raw string) (id string, secret []byte, ok bool) {
	std := base64.StdEncoding
	if len(raw) > 512 {
		return "", nil, false
	}
	inner, err := std.DecodeString(raw)
	if err != nil {
		return "", nil, false
	}
	a, b, found := strings.Cut(string(inner), "::")
	if !found {
		return "", nil, false
	}
	idb, err1 := std.DecodeString(a)
	sec, err2 := std.DecodeString(b)
	if err1 != nil || err2 != nil || len(sec) == 0 {
		return "", nil, false
	}
	return string(idb), sec, true
}
