package topology

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDocumentSize is the largest topology document Parse accepts, in bytes.
const MaxDocumentSize = 4 << 20

// ErrTooLarge is returned (wrapped) for documents over MaxDocumentSize.
var ErrTooLarge = errors.New("document too large")

var utf8BOM = []byte("\xEF\xBB\xBF")

// Format is the format of a topology document.
type Format int

// The formats Parse reads.
const (
	FormatUnspecified Format = iota // guessed from the source name or the content
	FormatYAML
	FormatJSON
	FormatKnoxXML
)

// Parse decodes a topology document and normalizes it; it does not validate
// (see Validate).
//
// format FormatUnspecified is guessed from sourceName's extension (.yaml,
// .yml, .json, .xml), else from the first non-blank byte: '<' is Knox XML,
// '{' JSON, anything else YAML. sourceName is also used in error messages.
//
// A non-empty name replaces the document's name. Knox XML carries no name of
// its own: it is name, else sourceName's base name without its extension,
// else the document's <name> element if it has one.
//
// Native YAML and JSON are decoded strictly: unknown or repeated fields,
// several documents, an empty document and trailing data are errors that
// name the field and line. Documents must be UTF-8 (a leading byte order mark
// is dropped) and at most MaxDocumentSize bytes.
func Parse(doc []byte, format Format, sourceName, name string) (*Topology, error) {
	t, err := parse(doc, format, sourceName, name)
	if err != nil {
		label := sourceName
		if label == "" {
			label = "topology document"
		}
		return nil, fmt.Errorf("parsing %s: %w", label, err)
	}
	return t, nil
}

func parse(doc []byte, format Format, sourceName, name string) (*Topology, error) {
	if len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(doc), MaxDocumentSize)
	}
	doc = bytes.TrimPrefix(doc, utf8BOM)
	if !utf8.Valid(doc) {
		off := firstInvalidUTF8(doc)
		return nil, fmt.Errorf("line %d: document is not valid UTF-8 (byte offset %d)", 1+bytes.Count(doc[:off], []byte{'\n'}), off)
	}
	if format == FormatUnspecified {
		format = DetectFormat(doc, sourceName)
	}
	var (
		t   *Topology
		err error
	)
	switch format {
	case FormatYAML:
		t, err = decodeNative(doc, false)
	case FormatJSON:
		t, err = decodeNative(doc, true)
	case FormatKnoxXML:
		var docName string
		t, docName, err = decodeKnox(doc)
		if err == nil {
			t.Name = knoxName(sourceName, docName)
		}
	default:
		return nil, fmt.Errorf("unknown format %v", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", formatName(format), err)
	}
	if name != "" {
		t.Name = name
	}
	Normalize(t)
	return t, nil
}

// DetectFormat guesses the format of doc from sourceName's extension, else
// from its first non-blank byte.
func DetectFormat(doc []byte, sourceName string) Format {
	base := baseName(sourceName)
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		switch strings.ToLower(base[i:]) {
		case ".yaml", ".yml":
			return FormatYAML
		case ".json":
			return FormatJSON
		case ".xml":
			return FormatKnoxXML
		}
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(doc, utf8BOM), " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '<':
		return FormatKnoxXML
	case len(trimmed) > 0 && trimmed[0] == '{':
		return FormatJSON
	}
	return FormatYAML
}

func formatName(f Format) string {
	switch f {
	case FormatYAML:
		return "YAML"
	case FormatJSON:
		return "JSON"
	case FormatKnoxXML:
		return "Knox XML"
	}
	return fmt.Sprintf("format %d", int(f))
}

// baseName is the last element of a slash or backslash separated path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// knoxName names a Knox topology after its file, as Knox does, falling back
// to the document's <name> element (e.g. for standard input).
func knoxName(sourceName, docName string) string {
	base := baseName(sourceName)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if base == "" || base == "-" {
		return docName
	}
	return base
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
