package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// int64sAsNumbers rewrites protojson's output for md so that 64-bit integer
// fields are JSON numbers, not strings: protojson quotes them for
// JavaScript's sake, but `-o json` is read by jq and scripts, which compare
// numbers. Key order, and every other value, is kept; the output is compact.
func int64sAsNumbers(b []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	r := &numberRewriter{dec: dec}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object, got %v", tok)
	}
	if err := r.message(md); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	return r.out.Bytes(), nil
}

type numberRewriter struct {
	dec *json.Decoder
	out bytes.Buffer
}

// message copies an object (its '{' read) whose keys are md's fields.
func (r *numberRewriter) message(md protoreflect.MessageDescriptor) error {
	return r.object(func(key string) protoreflect.FieldDescriptor {
		fields := md.Fields()
		if fd := fields.ByName(protoreflect.Name(key)); fd != nil {
			return fd
		}
		return fields.ByJSONName(key)
	})
}

// object copies an object (its '{' read); field says what each key's value is.
func (r *numberRewriter) object(field func(key string) protoreflect.FieldDescriptor) error {
	r.out.WriteByte('{')
	for i := 0; r.dec.More(); i++ {
		if i > 0 {
			r.out.WriteByte(',')
		}
		tok, err := r.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		r.writeString(key)
		r.out.WriteByte(':')
		var fd protoreflect.FieldDescriptor
		if field != nil {
			fd = field(key)
		}
		if err := r.value(fd, false); err != nil {
			return err
		}
	}
	if _, err := r.dec.Token(); err != nil { // '}'
		return err
	}
	r.out.WriteByte('}')
	return nil
}

// value copies one value of field fd (nil: unknown, copied as is); elem
// says it is one element of fd's list.
func (r *numberRewriter) value(fd protoreflect.FieldDescriptor, elem bool) error {
	tok, err := r.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch {
		case t == '[':
			r.out.WriteByte('[')
			for i := 0; r.dec.More(); i++ {
				if i > 0 {
					r.out.WriteByte(',')
				}
				if fd != nil && fd.IsList() && !elem {
					err = r.value(fd, true)
				} else {
					err = r.value(nil, false)
				}
				if err != nil {
					return err
				}
			}
			if _, err := r.dec.Token(); err != nil { // ']'
				return err
			}
			r.out.WriteByte(']')
			return nil
		case fd != nil && fd.IsMap():
			return r.object(func(string) protoreflect.FieldDescriptor { return fd.MapValue() })
		case fd != nil && fd.Message() != nil && (elem || !fd.IsList()) &&
			!strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf."):
			return r.message(fd.Message())
		default:
			return r.object(nil)
		}
	case string:
		if fd != nil && is64BitInt(fd.Kind()) && (elem || !fd.IsList()) && isInteger(t) {
			r.out.WriteString(t)
			return nil
		}
		r.writeString(t)
	case json.Number:
		r.out.WriteString(t.String())
	case bool:
		r.out.WriteString(strconv.FormatBool(t))
	case nil:
		r.out.WriteString("null")
	}
	return nil
}

func (r *numberRewriter) writeString(s string) {
	enc := json.NewEncoder(&r.out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	r.out.Truncate(r.out.Len() - 1) // Encode's newline
}

func is64BitInt(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func isInteger(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
