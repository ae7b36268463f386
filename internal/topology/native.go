package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Native YAML and JSON documents are decoded in two steps: the text becomes a
// yaml.Node tree (JSON through its own converter, so that JSON is parsed as
// JSON), the tree is checked against the model's fields (checkNode), then it
// is decoded into the model. The check is ours rather than yaml.v3's
// KnownFields because KnownFields is lost inside UnmarshalYAML methods, which
// Provider and Service need to record their line.

// maxJSONDepth bounds JSON nesting; the model needs five levels.
const maxJSONDepth = 32

// UnmarshalYAML decodes a provider and records its line.
func (p *Provider) UnmarshalYAML(n *yaml.Node) error {
	type plain Provider
	var v plain
	if err := n.Decode(&v); err != nil {
		return err
	}
	*p = Provider(v)
	p.Line = n.Line
	return nil
}

// UnmarshalYAML decodes a service and records its line.
func (s *Service) UnmarshalYAML(n *yaml.Node) error {
	type plain Service
	var v plain
	if err := n.Decode(&v); err != nil {
		return err
	}
	*s = Service(v)
	s.Line = n.Line
	return nil
}

// decodeNative decodes a native YAML or JSON document strictly.
func decodeNative(doc []byte, isJSON bool) (t *Topology, err error) {
	// yaml.v3 reports its own errors by panicking and recovering inside its
	// API; a panic escaping it would be a library bug on hostile input. Turn
	// it into an error rather than take the daemon down.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("decoder failure: %v", r)
		}
	}()
	var root *yaml.Node
	if isJSON {
		root, err = jsonToNode(doc)
	} else {
		root, err = yamlToNode(doc)
	}
	if err != nil {
		return nil, err
	}
	if err := checkNode(root, reflect.TypeFor[Topology](), ""); err != nil {
		return nil, err
	}
	t = &Topology{}
	if err := root.Decode(t); err != nil {
		return nil, err
	}
	return t, nil
}

// yamlToNode parses exactly one YAML document whose top level is a mapping.
func yamlToNode(doc []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var d yaml.Node
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fmt.Errorf("line %d: a second YAML document starts here; a file holds one topology", extra.Line)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("after the document: %w", err)
	}
	if len(d.Content) != 1 {
		return nil, errEmpty
	}
	return topMapping(d.Content[0])
}

var errEmpty = errors.New("document is empty")

func topMapping(n *yaml.Node) (*yaml.Node, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil, errEmpty
	case n.Kind != yaml.MappingNode:
		return nil, fmt.Errorf("line %d: the document must be a mapping (name, providers, services), not %s", n.Line, kindName(n))
	}
	return n, nil
}

// jsonToNode parses exactly one JSON value into a yaml.Node tree, with lines,
// refusing duplicate keys and anything after the value.
func jsonToNode(doc []byte) (*yaml.Node, error) {
	c := &jsonConv{dec: json.NewDecoder(bytes.NewReader(doc)), doc: doc, line: 1}
	c.dec.UseNumber()
	root, err := c.value(0)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		return nil, err
	}
	if _, err := c.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: unexpected data after the JSON document", c.lineAt(c.dec.InputOffset()))
	}
	return topMapping(root)
}

type jsonConv struct {
	dec     *json.Decoder
	started bool // a token was read: EOF is now premature
	doc     []byte
	pos     int64 // lineAt has counted newlines up to here
	line    int
}

// lineAt returns the line of byte offset off; offsets must not decrease.
func (c *jsonConv) lineAt(off int64) int {
	off = min(off, int64(len(c.doc)))
	if off > c.pos {
		c.line += bytes.Count(c.doc[c.pos:off], []byte{'\n'})
		c.pos = off
	}
	return c.line
}

func (c *jsonConv) token() (json.Token, int, error) {
	tok, err := c.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, 0, fmt.Errorf("line %d: invalid JSON: %s", c.lineAt(se.Offset), se)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && c.started) {
			return nil, 0, fmt.Errorf("line %d: invalid JSON: unexpected end of document", c.lineAt(int64(len(c.doc))))
		}
		return nil, 0, err
	}
	c.started = true
	// The offset is just past the token; scalars cannot span lines.
	return tok, c.lineAt(c.dec.InputOffset() - 1), nil
}

func (c *jsonConv) value(depth int) (*yaml.Node, error) {
	tok, line, err := c.token()
	if err != nil {
		return nil, err
	}
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("line %d: JSON nested deeper than %d levels", line, maxJSONDepth)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
			seen := map[string]int{}
			for c.dec.More() {
				ktok, kline, err := c.token()
				if err != nil {
					return nil, err
				}
				key, _ := ktok.(string)
				if prev, dup := seen[key]; dup {
					return nil, fmt.Errorf("line %d: duplicate key %q (first at line %d)", kline, key, prev)
				}
				seen[key] = kline
				val, err := c.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: kline}, val)
			}
			if _, _, err := c.token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line}
			for c.dec.More() {
				val, err := c.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			if _, _, err := c.token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("line %d: invalid JSON: unexpected %q", line, v)
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: line, Style: yaml.DoubleQuotedStyle}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v), Line: line}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v), Line: line}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: line}, nil
	}
	return nil, fmt.Errorf("line %d: invalid JSON token %v", line, tok)
}

var durationType = reflect.TypeFor[Duration]()

// coreTags are the explicit YAML tags a document may use.
var coreTags = map[string]bool{"!!str": true, "!!int": true, "!!bool": true, "!!float": true, "!!null": true, "!!map": true, "!!seq": true}

// checkNode verifies that n has the shape of type t: known fields only, each
// once, mappings where structs and maps are expected, sequences for slices,
// scalars for the rest; no aliases and no exotic tags. It reports every
// problem it finds.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	var p problems
	checkNodeInto(n, t, path, &p)
	return p.err()
}

func checkNodeInto(n *yaml.Node, t reflect.Type, path string, errs *problems) {
	add := func(line int, format string, args ...any) {
		errs.add(path, line, format, args...)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		add(n.Line, "YAML aliases are not supported in topologies")
		return
	}
	if n.Style&yaml.TaggedStyle != 0 && !coreTags[n.Tag] {
		add(n.Line, "YAML tag %s is not supported", n.Tag)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // the zero value
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			add(n.Line, "expected a duration such as \"30s\", got %s", kindName(n))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			add(n.Line, "expected a mapping, got %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content) && !errs.stop(); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				add(k.Line, "expected a field name, got %s", kindName(k))
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				add(k.Line, "unknown field %q%s", k.Value, suggest(k.Value, fields))
				continue
			}
			if prev, dup := seen[k.Value]; dup {
				add(k.Line, "field %q given twice (first at line %d)", k.Value, prev)
				continue
			}
			seen[k.Value] = k.Line
			checkNodeInto(v, ft, joinPath(path, k.Value), errs)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			add(n.Line, "expected a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			if errs.stop() {
				return
			}
			checkNodeInto(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			add(n.Line, "expected a mapping, got %s", kindName(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content) && !errs.stop(); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || (k.Style&yaml.TaggedStyle != 0 && !coreTags[k.Tag]) {
				add(k.Line, "expected a string key, got %s", kindName(k))
				continue
			}
			if prev, dup := seen[k.Value]; dup {
				add(k.Line, "key %q given twice (first at line %d)", k.Value, prev)
				continue
			}
			seen[k.Value] = k.Line
			checkNodeInto(v, t.Elem(), fmt.Sprintf("%s[%q]", path, k.Value), errs)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			add(n.Line, "expected a single value, got %s", kindName(n))
			return
		}
		// yaml.v3 would truncate 1.5 to 1 silently, and read YAML 1.1's
		// yes, on and y as true.
		switch k := t.Kind(); {
		case k >= reflect.Int && k <= reflect.Int64 && n.Tag == "!!float":
			add(n.Line, "expected a whole number, got %s", kindName(n))
		case k == reflect.Bool && n.Tag != "!!bool":
			add(n.Line, "expected true or false, got %s", kindName(n))
		}
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// yamlFields maps the YAML names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// suggest returns a hint naming the closest known field, or "".
func suggest(name string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, k := range names {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
