package cli

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenPolicyListOptions struct {
	f *factory
}

func newTokenPolicyListCommand(f *factory) *cobra.Command {
	o := &tokenPolicyListOptions{f: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List token policies",
		Example: `  gatewayctl token-policy list
  gatewayctl token-policy list -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
}

func (o *tokenPolicyListOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *tokenPolicyListOptions) Validate() error                         { return nil }

func (o *tokenPolicyListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenPolicyServiceClient(conn).ListTokenPolicies(ctx, &gatewayv1.ListTokenPoliciesRequest{})
	if err != nil {
		return err
	}
	slices.SortFunc(resp.Policies, func(a, b *gatewayv1.TokenPolicy) int { return strings.Compare(a.GetName(), b.GetName()) })
	return o.f.print(resp, func(w io.Writer) {
		row(w, "NAME", "CALLERS", "SUBJECTS", "DEFAULT-TTL", "MAX-TTL", "MAX-LIFETIME", "AUDIENCES", "ALGORITHM")
		for _, p := range resp.GetPolicies() {
			callers := append(slices.Clone(p.GetAllowedCallers()), prefixed("group:", p.GetAllowedCallerGroups())...)
			subjects := append(slices.Clone(p.GetAllowedSubjects()), prefixed("group:", p.GetAllowedSubjectGroups())...)
			row(w, p.GetName(), list(callers), list(subjects), fmtDuration(p.GetDefaultTtl()), fmtDuration(p.GetMaxTtl()),
				fmtDuration(p.GetMaxLifetime()), list(p.GetAudiences()), p.GetAlgorithm())
		}
	})
}

func prefixed(prefix string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = prefix + v
	}
	return out
}
