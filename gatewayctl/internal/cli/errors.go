package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes.
const (
	exitError = 1
	exitUsage = 2
)

// usageError marks an error caused by how gatewayctl was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func asUsageError(err error) error {
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return &usageError{err}
}

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// formatError renders err for stderr: "error: " and the message; a message
// of several lines (e.g. one problem per line from InvalidArgument) keeps
// its lines, continuation lines indented.
func formatError(err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	var b strings.Builder
	b.WriteString("error: ")
	b.WriteString(lines[0])
	b.WriteByte('\n')
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			b.WriteString("  ")
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// describeRPCError is the one place where gRPC status codes become messages
// for humans. The server's message is kept as it was sent.
func describeRPCError(e *rpcError) string {
	st, ok := status.FromError(e.err)
	if !ok {
		if errors.Is(e.err, context.DeadlineExceeded) {
			return deadlineMessage(e)
		}
		if errors.Is(e.err, context.Canceled) {
			return "canceled"
		}
		return fmt.Sprintf("calling %s on gatewayd at %s: %v", shortMethod(e.method), e.addr, e.err)
	}
	msg := st.Message()
	switch st.Code() {
	case codes.NotFound, codes.AlreadyExists, codes.OutOfRange:
		return orDefault(msg, strings.ToLower(splitCamel(st.Code().String())))
	case codes.InvalidArgument:
		return invalidArgumentMessage(st)
	case codes.FailedPrecondition:
		if strings.Contains(msg, "at revision") || strings.Contains(msg, "expected revision") || strings.Contains(msg, "expected it not to exist") {
			return withPrefix("revision mismatch", msg)
		}
		return withPrefix("refused", msg)
	case codes.PermissionDenied:
		return withPrefix("permission denied", msg)
	case codes.Unauthenticated:
		return withPrefix("unauthenticated", msg) + " (check the client certificate in the config file)"
	case codes.Unavailable:
		return unavailableMessage(e.addr, msg)
	case codes.Unimplemented:
		s := fmt.Sprintf("gatewayd at %s does not implement %s (a newer gatewayd may)", e.addr, shortMethod(e.method))
		if msg != "" && !defaultUnimplemented.MatchString(msg) {
			s += ": " + msg
		}
		return s
	case codes.DeadlineExceeded:
		return deadlineMessage(e)
	case codes.Canceled:
		return "canceled"
	case codes.ResourceExhausted:
		return withPrefix("resource exhausted", msg)
	case codes.Aborted:
		return withPrefix("aborted, try again", msg)
	default: // Internal, Unknown, DataLoss
		return withPrefix("gatewayd failed", msg)
	}
}

// defaultUnimplemented matches the message of grpc-go's generated
// Unimplemented… servers.
var defaultUnimplemented = regexp.MustCompile(`^method \w+ not implemented$`)

func deadlineMessage(e *rpcError) string {
	return fmt.Sprintf("gatewayd at %s did not answer %s within %s (raise --timeout to wait longer)", e.addr, shortMethod(e.method), e.timeout)
}

// invalidArgumentMessage returns the server's message and, when it sent
// google.rpc.BadRequest details, one "field: description" line per problem.
func invalidArgumentMessage(st *status.Status) string {
	msg := orDefault(st.Message(), "invalid argument")
	var lines []string
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			if v.GetField() == "" {
				lines = append(lines, v.GetDescription())
			} else {
				lines = append(lines, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	if len(lines) == 0 {
		return msg
	}
	return msg + "\n" + strings.Join(lines, "\n")
}

// transportDesc extracts the description from grpc-go's transport errors:
// `connection error: desc = "transport: Error while dialing: dial tcp …"`.
var transportDesc = regexp.MustCompile(`^connection error: desc = "(.*)"$`)

func unavailableMessage(addr, msg string) string {
	detail := msg
	transport := false
	if m := transportDesc.FindStringSubmatch(msg); m != nil {
		detail, transport = m[1], true
	}
	for _, p := range []string{"transport: ", "Error while dialing: ", "error while dialing: "} {
		if rest, ok := strings.CutPrefix(detail, p); ok {
			detail, transport = rest, true
		}
	}
	if rest, ok := strings.CutPrefix(detail, "authentication handshake failed: "); ok {
		s := fmt.Sprintf("TLS handshake with gatewayd at %s failed: %s", addr, rest)
		switch {
		case strings.Contains(rest, "unknown authority"):
			s += " (is ca in the config file the CA that signed gatewayd's certificate?)"
		case strings.Contains(rest, "certificate is valid for") || strings.Contains(rest, "certificate is not valid for"):
			s += " (set server_name in the config file to a name in gatewayd's certificate)"
		}
		return s
	}
	if strings.Contains(detail, "remote error: tls:") {
		detail = strings.TrimPrefix(detail, "error reading server preface: ")
		return fmt.Sprintf("gatewayd at %s rejected the TLS connection: %s (check cert and key in the config file)", addr, detail)
	}
	// With TLS 1.3 the client's handshake ends before the server checks the
	// client certificate, so a rejection often shows as a closed connection.
	for _, closed := range []string{"broken pipe", "connection reset", "EOF", "server preface"} {
		if strings.Contains(detail, closed) {
			return fmt.Sprintf("gatewayd at %s closed the connection: %s (did it reject the client certificate? check cert and key in the config file)", addr, detail)
		}
	}
	if transport || strings.Contains(detail, "name resolver") || strings.Contains(detail, "connection") {
		return fmt.Sprintf("cannot reach gatewayd at %s: %s", addr, detail)
	}
	return withPrefix(fmt.Sprintf("gatewayd at %s is unavailable", addr), detail)
}

// shortMethod turns "/gateway.v1.AliasService/CreateAlias" into
// "AliasService.CreateAlias".
func shortMethod(full string) string {
	full = strings.TrimPrefix(full, "/")
	svc, m, ok := strings.Cut(full, "/")
	if !ok {
		return full
	}
	if i := strings.LastIndex(svc, "."); i >= 0 {
		svc = svc[i+1:]
	}
	return svc + "." + m
}

// withPrefix returns "prefix: msg", without repeating a prefix the server
// already wrote.
func withPrefix(prefix, msg string) string {
	if msg == "" {
		return prefix
	}
	if strings.HasPrefix(strings.ToLower(msg), strings.ToLower(prefix)) {
		return msg
	}
	return prefix + ": " + msg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitCamel turns "NotFound" into "Not Found".
func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
