package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// print writes m in the -o format: json and yaml come from protojson, table
// from the command's table function, written through a tabwriter.
func (f *factory) print(m proto.Message, table func(w io.Writer)) error {
	if f.output == outputTable {
		return f.printTable(table)
	}
	b, err := protoJSON(m)
	if err != nil {
		return err
	}
	return f.printJSON(b)
}

// printTable runs table against a tabwriter on stdout.
func (f *factory) printTable(table func(w io.Writer)) error {
	tw := tabwriter.NewWriter(f.out(), 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printJSON writes a JSON document as json or yaml, per -o.
func (f *factory) printJSON(b []byte) error {
	if f.output == outputYAML {
		y, err := jsonToYAML(b)
		if err != nil {
			return err
		}
		_, err = f.out().Write(y)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return fmt.Errorf("formatting JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := f.out().Write(buf.Bytes())
	return err
}

// protoJSON is protojson with proto field names and 64-bit integers as
// numbers, made byte-stable: protojson adds random whitespace on purpose,
// which the rewrite drops.
func protoJSON(m proto.Message) ([]byte, error) {
	md := m.ProtoReflect().Descriptor()
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %s as JSON: %w", md.Name(), err)
	}
	if b, err = int64sAsNumbers(b, md); err != nil {
		return nil, fmt.Errorf("encoding %s as JSON: %w", md.Name(), err)
	}
	return b, nil
}

// jsonToYAML converts a JSON document to block-style YAML, keeping key order.
func jsonToYAML(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("converting JSON to YAML: %w", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		// Block style, and plain scalars where that reads back the same;
		// strings YAML 1.1 would take for booleans stay quoted.
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || !yaml11Bools[n.Value] {
			n.Style = 0
		}
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("converting JSON to YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("converting JSON to YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// yaml11Bools are the strings YAML 1.1 parsers read as booleans.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}

// row writes one tab-separated table row; empty cells print as "-".
func row(w io.Writer, cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		s := fmt.Sprint(c)
		if s == "" {
			s = "-"
		}
		parts[i] = s
	}
	fmt.Fprintln(w, strings.Join(parts, "\t"))
}

// fmtTime formats a timestamp in UTC, "-" when unset.
func fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// fmtDuration formats a duration, "-" when unset.
func fmtDuration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return formatDuration(d.AsDuration())
}

// list joins values with commas, "-" when empty.
func list(values []string) string {
	if len(values) == 0 {
		return "-"
	}
	return strings.Join(values, ",")
}

// yesNo renders a boolean cell.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plural returns "1 service", "2 services", "3 aliases".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
