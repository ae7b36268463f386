package secretsvc

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// Limits of aliases.
const (
	MaxValueLen    = 64 << 10
	MaxGenerateLen = 1024
)

var (
	aliasNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// topologyNameRE is the topology name rule of internal/topology.
	topologyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

const (
	// gatewayKeyScope is the gateway scope in store keys.
	gatewayKeyScope = "@gateway"
	// gatewayScope is the gateway scope in record identities and messages;
	// a topology of that name has no scope of its own.
	gatewayScope = "gateway"
	// allScopes lists every scope in ListAliases.
	allScopes = "*"
)

// aliasRef names an alias: topology "" is the gateway scope.
type aliasRef struct{ topology, name string }

func (r aliasRef) key() string {
	if r.topology == "" {
		return gatewayKeyScope + "/" + r.name
	}
	return r.topology + "/" + r.name
}

// aad is the record identity, the additional data of its seal.
func (r aliasRef) aad() string { return "alias/" + r.scope() + "/" + r.name }

func (r aliasRef) scope() string { return cmp.Or(r.topology, gatewayScope) }

func (r aliasRef) String() string {
	if r.topology == "" {
		return fmt.Sprintf("alias %q (gateway scope)", r.name)
	}
	return fmt.Sprintf("alias %q (topology %q)", r.name, r.topology)
}

// parseAliasKey is the inverse of aliasRef.key.
func parseAliasKey(key string) (aliasRef, error) {
	scope, name, ok := strings.Cut(key, "/")
	if !ok || !aliasNameRE.MatchString(name) {
		return aliasRef{}, fmt.Errorf("alias key %s is malformed", clip(key))
	}
	if scope == gatewayKeyScope {
		return aliasRef{name: name}, nil
	}
	if !topologyNameRE.MatchString(scope) {
		return aliasRef{}, fmt.Errorf("alias key %s is malformed", clip(key))
	}
	return aliasRef{topology: scope, name: name}, nil
}

// checkScope validates the topology scope of a request ("" is the gateway).
func checkScope(topology string) error {
	switch {
	case topology == "":
		return nil
	case topology == gatewayScope:
		return invalidf(`topology %q has no alias scope of its own: its aliases are the gateway scope's (leave the topology empty)`, gatewayScope)
	case !topologyNameRE.MatchString(topology):
		return invalidf("invalid topology %s: a topology name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(topology))
	}
	return nil
}

// newRef validates a request's alias name and scope.
func newRef(topology, name string) (aliasRef, error) {
	if err := checkScope(topology); err != nil {
		return aliasRef{}, err
	}
	if !aliasNameRE.MatchString(name) {
		return aliasRef{}, invalidf("invalid alias name %s: an alias name is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(name))
	}
	return aliasRef{topology: topology, name: name}, nil
}

// readAlias returns an alias' value.
func (s *Service) readAlias(ctx context.Context, r aliasRef) ([]byte, error) {
	v, err := s.openLive(ctx, r.aad(), func() ([]byte, error) {
		o, err := s.st.GetObject(ctx, store.KindAlias, r.key())
		return o.Value, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r, err)
	}
	return v, nil
}

// Resolve returns the value of an alias referenced by a topology: the
// topology's own alias if it has one, else the gateway's. A missing alias
// gives an error wrapping store.ErrNotFound, a damaged one an error wrapping
// secrets.ErrIntegrity; both name the alias. The caller owns (and should
// clear) the value.
func (s *Service) Resolve(ctx context.Context, topology, alias string) ([]byte, error) {
	if !aliasNameRE.MatchString(alias) {
		return nil, fmt.Errorf("invalid alias name %s", clip(alias))
	}
	if topology != "" && topology != gatewayScope && topologyNameRE.MatchString(topology) {
		v, err := s.readAlias(ctx, aliasRef{topology: topology, name: alias})
		if !errors.Is(err, store.ErrNotFound) {
			return v, err
		}
	}
	v, err := s.readAlias(ctx, aliasRef{name: alias})
	if errors.Is(err, store.ErrNotFound) {
		if topology == "" {
			return nil, fmt.Errorf("alias %q: %w in the gateway scope", alias, store.ErrNotFound)
		}
		return nil, fmt.Errorf("alias %q: %w in topology %q or the gateway scope", alias, store.ErrNotFound, topology)
	}
	return v, err
}

// MissingAliases returns, in their order, the names that neither the
// topology's scope nor the gateway scope holds in what r reads (the store,
// or the state a guarded write commits on).
func (s *Service) MissingAliases(ctx context.Context, r store.Reader, topology string, names []string) ([]string, error) {
	have := map[string]bool{}
	scopes := []string{""}
	if topology != "" && topology != gatewayScope && topologyNameRE.MatchString(topology) {
		scopes = append(scopes, topology)
	}
	for _, scope := range scopes {
		prefix := aliasRef{topology: scope}.key()
		objs, err := r.ListObjects(ctx, store.KindAlias, prefix)
		if err != nil {
			return nil, fmt.Errorf("listing aliases: %w", err)
		}
		for _, o := range objs {
			have[strings.TrimPrefix(o.Key, prefix)] = true
		}
	}
	var missing []string
	for _, n := range names {
		if !have[n] && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// aliasServer implements gatewayv1.AliasServiceServer.
type aliasServer struct {
	gatewayv1.UnimplementedAliasServiceServer
	s *Service
}

func (a aliasServer) CreateAlias(ctx context.Context, req *gatewayv1.CreateAliasRequest) (*gatewayv1.CreateAliasResponse, error) {
	r, err := newRef(req.GetTopology(), req.GetName())
	if err != nil {
		return nil, err
	}
	value := req.GetValue()
	switch n := req.GetGenerateLength(); {
	case n != 0 && len(value) > 0:
		return nil, invalidf("give a value or generate_length, not both")
	case n < 0 || n > MaxGenerateLen:
		return nil, invalidf("generate_length %d out of range [1, %d]", n, MaxGenerateLen)
	case n > 0:
		value = randomValue(int(n))
	case len(value) == 0:
		return nil, invalidf("the value of %s is empty", r)
	case len(value) > MaxValueLen:
		return nil, invalidf("the value of %s is %d bytes, more than %d", r, len(value), MaxValueLen)
	}
	defer clear(value) // the request's copy too: nothing needs it after sealing
	o, err := a.s.putAlias(ctx, r, value, req.GetOverwrite())
	if err != nil {
		return nil, err
	}
	a.s.log.InfoContext(ctx, "alias stored", "alias", r.name, "scope", r.scope())
	if err := a.s.changed(ctx, store.KindAlias, r.topology, r.name); err != nil {
		return nil, err
	}
	return &gatewayv1.CreateAliasResponse{Alias: a.s.aliasInfo(r, o)}, nil
}

// putAlias seals and stores a value, under the store's data key: if a data
// key rotation through another gateway committed between the seal and the
// write, the record is sealed again under the new key and replaced.
func (s *Service) putAlias(ctx context.Context, r aliasRef, value []byte, overwrite bool) (store.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	expect := int64(0)
	if overwrite {
		expect = store.NoRevisionCheck
	}
	kr, err := s.follow(ctx)
	if err != nil {
		return store.Object{}, err
	}
	sealed, err := kr.Seal(r.aad(), value)
	if err != nil {
		return store.Object{}, fmt.Errorf("sealing %s: %w", r, err)
	}
	o, err := s.st.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: r.key(), Value: sealed}, expect)
	if errors.Is(err, store.ErrAlreadyExists) || (!overwrite && errors.Is(err, store.ErrRevisionMismatch)) {
		return store.Object{}, fmt.Errorf("%s %w (to replace it: gatewayctl alias create --overwrite, the API's overwrite)", r, store.ErrAlreadyExists)
	}
	if err != nil {
		return store.Object{}, fmt.Errorf("storing %s: %w", r, err)
	}
	// A data key rotation that committed between the seal and the put
	// left the value under the old key, which no reader follows back to:
	// seal it again. Unchecked, it could be unreadable: say so.
	now, err := s.follow(ctx)
	if err != nil {
		return store.Object{}, fmt.Errorf("%s is stored, but whether a data key rotation got in between could not be checked (store it again with overwrite once the store answers): %w", r, err)
	}
	if now == kr {
		return o, nil
	}
	if sealed, err = now.Seal(r.aad(), value); err != nil {
		return store.Object{}, fmt.Errorf("sealing %s: %w", r, err)
	}
	if o, err = s.st.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: r.key(), Value: sealed}, o.Revision); err != nil {
		return store.Object{}, fmt.Errorf("storing %s again under the data key rotated meanwhile: %w", r, err)
	}
	return o, nil
}

// alnum is the alphabet of generated values: printable, so that a value
// can be substituted into any parameter, header or bind request.
const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomValue returns n characters of alnum from crypto/rand, without bias
// (about 5.95 bits each).
func randomValue(n int) []byte {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	defer clear(buf)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails
		for _, b := range buf {
			if int(b) < 256-256%len(alnum) && len(out) < n {
				out = append(out, alnum[int(b)%len(alnum)])
			}
		}
	}
	return out
}

func (a aliasServer) ListAliases(ctx context.Context, req *gatewayv1.ListAliasesRequest) (*gatewayv1.ListAliasesResponse, error) {
	prefix := ""
	if t := req.GetTopology(); t != allScopes {
		if err := checkScope(t); err != nil {
			return nil, err
		}
		prefix = aliasRef{topology: t}.key()
	}
	objs, err := a.s.st.ListObjects(ctx, store.KindAlias, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing aliases: %w", err)
	}
	resp := &gatewayv1.ListAliasesResponse{Aliases: make([]*gatewayv1.AliasInfo, 0, len(objs))}
	for _, o := range objs {
		r, err := parseAliasKey(o.Key)
		if err != nil {
			a.s.log.WarnContext(ctx, "skipping a malformed alias key", "err", err)
			continue
		}
		resp.Aliases = append(resp.Aliases, a.s.aliasInfo(r, o))
	}
	// The gateway scope first, then topologies by name.
	slices.SortStableFunc(resp.Aliases, func(x, y *gatewayv1.AliasInfo) int {
		return cmp.Or(cmp.Compare(x.Topology, y.Topology), cmp.Compare(x.Name, y.Name))
	})
	return resp, nil
}

// aliasInfo describes a stored alias from its record's header, never its
// value. The KDF is the verifier's, which protects every record.
func (s *Service) aliasInfo(r aliasRef, o store.Object) *gatewayv1.AliasInfo {
	kr := s.kr.Load()
	info := &gatewayv1.AliasInfo{
		Name:      r.name,
		Topology:  r.topology,
		UpdatedAt: timestamppb.New(o.UpdatedAt),
		Kdf:       kr.Settings().KDF.String(),
		Stale:     kr.Stale(o.Value),
	}
	info.Cipher, info.KeyId = recordHeader(o.Value)
	return info
}

// recordHeader reads the cipher and key id of a sealed record, whose
// layout internal/secrets documents: version(1) | cipher id(1) | key id(8).
func recordHeader(sealed []byte) (cipher, keyID string) {
	const version, keyIDLen = 1, 8
	if len(sealed) < 2+keyIDLen || sealed[0] != version {
		return "malformed", ""
	}
	switch sealed[1] {
	case 1:
		cipher = secrets.CipherAES256GCM
	case 2:
		cipher = secrets.CipherXChaCha20Poly1305
	default:
		cipher = fmt.Sprintf("unknown-%d", sealed[1])
	}
	return cipher, hex.EncodeToString(sealed[2 : 2+keyIDLen])
}

func (a aliasServer) DeleteAlias(ctx context.Context, req *gatewayv1.DeleteAliasRequest) (*gatewayv1.DeleteAliasResponse, error) {
	r, err := newRef(req.GetTopology(), req.GetName())
	if err != nil {
		return nil, err
	}
	var check store.Check
	if a.s.opts.GuardDelete != nil {
		check = a.s.opts.GuardDelete(r.topology, r.name)
	}
	if _, err := a.s.st.DeleteObjectIf(ctx, store.KindAlias, r.key(), store.NoRevisionCheck, check); err != nil {
		var inUse *apierr.Error
		if errors.As(err, &inUse) && inUse.Kind == apierr.FailedPrecondition {
			return nil, apierr.Errorf(apierr.FailedPrecondition, "%s is %v", r, inUse)
		}
		return nil, fmt.Errorf("deleting %s: %w", r, err)
	}
	a.s.log.InfoContext(ctx, "alias deleted", "alias", r.name, "scope", r.scope())
	return &gatewayv1.DeleteAliasResponse{}, nil
}

func (a aliasServer) RevealAlias(ctx context.Context, req *gatewayv1.RevealAliasRequest) (*gatewayv1.RevealAliasResponse, error) {
	r, err := newRef(req.GetTopology(), req.GetName())
	if err != nil {
		return nil, err
	}
	v, err := a.s.readAlias(ctx, r)
	if err != nil {
		return nil, rpcError(err)
	}
	return &gatewayv1.RevealAliasResponse{Value: v}, nil
}

func (a aliasServer) ReencryptAliases(ctx context.Context, _ *gatewayv1.ReencryptAliasesRequest) (*gatewayv1.ReencryptAliasesResponse, error) {
	n, err := a.s.reencrypt(ctx)
	if err != nil {
		return nil, rpcError(err)
	}
	return &gatewayv1.ReencryptAliasesResponse{Reencrypted: int32(n)}, nil
}

func (a aliasServer) RotateMaster(ctx context.Context, req *gatewayv1.RotateMasterRequest) (*gatewayv1.RotateMasterResponse, error) {
	defer clear(req.GetCurrentSecret())
	defer clear(req.GetNewSecret())
	n, err := a.s.rotateMaster(ctx, req.GetCurrentSecret(), req.GetNewSecret(), req.GetNewDataKey())
	if err != nil {
		return nil, rpcError(err)
	}
	return &gatewayv1.RotateMasterResponse{Reencrypted: int32(n)}, nil
}
