package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newTokenPolicyCommand(f *factory) *cobra.Command {
	cmd := newGroup("token-policy", "Manage the policies that bound token issuance",
		`  gatewayctl token-policy put etl.yaml
  gatewayctl token-policy get etl -o yaml > etl.yaml`,
		newTokenPolicyPutCommand(f),
		newTokenPolicyGetCommand(f),
		newTokenPolicyListCommand(f),
		newTokenPolicyDeleteCommand(f),
	)
	cmd.Aliases = []string{"token-policies"}
	return cmd
}

// policyFile is the YAML form of a token policy read by `token-policy put`
// and printed by `token-policy get -o yaml`. Keys are the TokenPolicy field
// names; durations are strings such as "1h" or "7d". Unknown keys are errors.
//
//	name: etl
//	allowed_callers: [svc-etl]
//	allowed_caller_groups: [etl-admins]
//	allowed_subjects: ["*"]
//	allowed_subject_groups: [etl-users]
//	group_source: corp
//	default_ttl: 1h
//	max_ttl: 12h
//	max_lifetime: 7d
//	audiences: [hive]
//	topologies: [sandbox]
//	algorithm: ES256
//	allowed_certificate_subjects: [etl-broker]
//	allowed_algorithms: [RS256]
//	token_types: [jwt, passcode]
//	include_groups: true
//	per_user_limit: 5
//	limit_action: revoke-oldest
//	renewers: [etl-admins]
//	revokers: [etl-admins]
type policyFile struct {
	Name                 string       `yaml:"name"`
	AllowedCallers       []string     `yaml:"allowed_callers,omitempty"`
	AllowedCallerGroups  []string     `yaml:"allowed_caller_groups,omitempty"`
	AllowedSubjects      []string     `yaml:"allowed_subjects,omitempty"`
	AllowedSubjectGroups []string     `yaml:"allowed_subject_groups,omitempty"`
	GroupSource          string       `yaml:"group_source,omitempty"`
	DefaultTTL           yamlDuration `yaml:"default_ttl,omitempty"`
	MaxTTL               yamlDuration `yaml:"max_ttl,omitempty"`
	MaxLifetime          yamlDuration `yaml:"max_lifetime,omitempty"`
	Audiences            []string     `yaml:"audiences,omitempty"`
	Topologies           []string     `yaml:"topologies,omitempty"`
	Algorithm            string       `yaml:"algorithm,omitempty"`

	AllowedCertificateSubjects []string `yaml:"allowed_certificate_subjects,omitempty"`
	AllowedAlgorithms          []string `yaml:"allowed_algorithms,omitempty"`
	TokenTypes                 []string `yaml:"token_types,omitempty"`
	IncludeGroups              bool     `yaml:"include_groups,omitempty"`
	PerUserLimit               int32    `yaml:"per_user_limit,omitempty"`
	LimitAction                string   `yaml:"limit_action,omitempty"`
	Renewers                   []string `yaml:"renewers,omitempty"`
	Revokers                   []string `yaml:"revokers,omitempty"`
}

// yamlDuration is a duration written like "90s", "12h" or "7d".
type yamlDuration time.Duration

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like 12h or 7d", n.Line)
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, s)
	}
	*d = yamlDuration(v)
	return nil
}

func (d yamlDuration) IsZero() bool { return d == 0 }

func (d yamlDuration) MarshalYAML() (any, error) { return formatDuration(time.Duration(d)), nil }

func (d yamlDuration) proto() *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(time.Duration(d))
}

func protoDuration(d *durationpb.Duration) yamlDuration {
	if d == nil {
		return 0
	}
	return yamlDuration(d.AsDuration())
}

// parsePolicyFile decodes a policy file strictly.
func parsePolicyFile(source string, data []byte) (*gatewayv1.TokenPolicy, error) {
	var pf policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty policy file", source)
		}
		return nil, fmt.Errorf("%s: %s", source, yamlErrorText(err))
	}
	if pf.Name == "" {
		return nil, fmt.Errorf("%s: name is required", source)
	}
	return &gatewayv1.TokenPolicy{
		Name:                 pf.Name,
		AllowedCallers:       pf.AllowedCallers,
		AllowedCallerGroups:  pf.AllowedCallerGroups,
		AllowedSubjects:      pf.AllowedSubjects,
		AllowedSubjectGroups: pf.AllowedSubjectGroups,
		GroupSource:          pf.GroupSource,
		DefaultTtl:           pf.DefaultTTL.proto(),
		MaxTtl:               pf.MaxTTL.proto(),
		MaxLifetime:          pf.MaxLifetime.proto(),
		Audiences:            pf.Audiences,
		Topologies:           pf.Topologies,
		Algorithm:            pf.Algorithm,

		AllowedCertificateSubjects: pf.AllowedCertificateSubjects,
		AllowedAlgorithms:          pf.AllowedAlgorithms,
		TokenTypes:                 pf.TokenTypes,
		IncludeGroups:              pf.IncludeGroups,
		PerUserLimit:               pf.PerUserLimit,
		LimitAction:                pf.LimitAction,
		Renewers:                   pf.Renewers,
		Revokers:                   pf.Revokers,
	}, nil
}

// encodePolicyFile renders a policy in the form parsePolicyFile reads.
func encodePolicyFile(p *gatewayv1.TokenPolicy) ([]byte, error) {
	pf := policyFile{
		Name:                 p.GetName(),
		AllowedCallers:       p.GetAllowedCallers(),
		AllowedCallerGroups:  p.GetAllowedCallerGroups(),
		AllowedSubjects:      p.GetAllowedSubjects(),
		AllowedSubjectGroups: p.GetAllowedSubjectGroups(),
		GroupSource:          p.GetGroupSource(),
		DefaultTTL:           protoDuration(p.GetDefaultTtl()),
		MaxTTL:               protoDuration(p.GetMaxTtl()),
		MaxLifetime:          protoDuration(p.GetMaxLifetime()),
		Audiences:            p.GetAudiences(),
		Topologies:           p.GetTopologies(),
		Algorithm:            p.GetAlgorithm(),

		AllowedCertificateSubjects: p.GetAllowedCertificateSubjects(),
		AllowedAlgorithms:          p.GetAllowedAlgorithms(),
		TokenTypes:                 p.GetTokenTypes(),
		IncludeGroups:              p.GetIncludeGroups(),
		PerUserLimit:               p.GetPerUserLimit(),
		LimitAction:                p.GetLimitAction(),
		Renewers:                   p.GetRenewers(),
		Revokers:                   p.GetRevokers(),
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&pf); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// describeTokenPolicy prints a policy as key/value lines.
func describeTokenPolicy(w io.Writer, p *gatewayv1.TokenPolicy, revision int64) {
	row(w, "Name:", p.GetName())
	if revision > 0 {
		row(w, "Revision:", revision)
	}
	row(w, "Allowed callers:", list(p.GetAllowedCallers()))
	row(w, "Allowed caller groups:", list(p.GetAllowedCallerGroups()))
	row(w, "Allowed subjects:", list(p.GetAllowedSubjects()))
	row(w, "Allowed subject groups:", list(p.GetAllowedSubjectGroups()))
	if p.GetGroupSource() != "" {
		row(w, "Group source:", p.GetGroupSource())
	}
	row(w, "Default TTL:", fmtDuration(p.GetDefaultTtl()))
	row(w, "Max TTL:", fmtDuration(p.GetMaxTtl()))
	row(w, "Max lifetime:", fmtDuration(p.GetMaxLifetime()))
	row(w, "Audiences:", list(p.GetAudiences()))
	row(w, "Topologies:", list(p.GetTopologies()))
	row(w, "Algorithm:", p.GetAlgorithm())
	row(w, "Allowed certificate subjects:", list(p.GetAllowedCertificateSubjects()))
	row(w, "Allowed algorithms:", list(p.GetAllowedAlgorithms()))
	row(w, "Token types:", list(p.GetTokenTypes()))
	row(w, "Include groups:", yesNo(p.GetIncludeGroups()))
	if p.GetPerUserLimit() > 0 {
		row(w, "Per-user limit:", fmt.Sprintf("%d (%s)", p.GetPerUserLimit(), orDefault(p.GetLimitAction(), "refuse")))
	}
	row(w, "Renewers:", list(p.GetRenewers()))
	row(w, "Revokers:", list(p.GetRevokers()))
}
