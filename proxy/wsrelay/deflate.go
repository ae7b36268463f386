package wsrelay

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// permessage-deflate (RFC 7692), negotiated with each side on its own and
// always without context takeover, so that no compression state outlives
// a message: an idle connection holds none, and a message in flight holds
// its compressed bytes, at most MaxMessageBytes inflated, and a pooled
// inflater.
//
// A compressed message (RSV1 on its first frame) is collected and inflated
// (past MaxMessageBytes: close 1009, whatever its compressed size; data
// that does not inflate: 1007). When the other side negotiated the
// extension too and no rule rewrites the message, its compressed bytes
// pass as they came (one frame, RSV1); otherwise the inflated (and
// rewritten) message goes out uncompressed, which the extension allows for
// any message. The relay never compresses: it sends what it received.

// DeflateOffer is the extension the relay offers a backend.
const DeflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

const deflateName = "permessage-deflate"

// extParams splits one extension of a Sec-WebSocket-Extensions value into
// its name and parameters (name → value, "" for none); ok is false when a
// parameter repeats.
func extParams(ext string) (name string, params map[string]string, ok bool) {
	parts := strings.Split(ext, ";")
	name = strings.ToLower(strings.TrimSpace(parts[0]))
	params = map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if _, dup := params[k]; dup || k == "" {
			return name, nil, false
		}
		params[k] = v
	}
	return name, params, true
}

// extensions lists the extensions of Sec-WebSocket-Extensions values.
func extensions(values []string) []string {
	var out []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func windowBits(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 8 && n <= 15
}

// AcceptDeflate picks the first permessage-deflate offer of a client's
// Sec-WebSocket-Extensions values the relay can take, and returns the
// extension to answer with (no context takeover either way). An offer
// asking for a window under 32 KiB (server_max_window_bits below 15) is
// not taken: compressed messages pass from the backend as it made them,
// with its window. ok is false when there is none.
func AcceptDeflate(values []string) (answer string, ok bool) {
offers:
	for _, e := range extensions(values) {
		name, params, pok := extParams(e)
		if name != deflateName || !pok {
			continue
		}
		for k, v := range params {
			switch k {
			case "server_no_context_takeover", "client_no_context_takeover":
				if v != "" {
					continue offers
				}
			case "server_max_window_bits":
				if v != "15" {
					continue offers
				}
			case "client_max_window_bits":
				if v != "" && !windowBits(v) {
					continue offers
				}
			default:
				continue offers
			}
		}
		answer = deflateName + "; server_no_context_takeover; client_no_context_takeover"
		if v, ok := params["server_max_window_bits"]; ok {
			answer += "; server_max_window_bits=" + v // 15
		}
		return answer, true
	}
	return "", false
}

// CheckDeflateAnswer checks a backend's Sec-WebSocket-Extensions answer to
// DeflateOffer: none (false), or permessage-deflate without context
// takeover on the backend's side (true).
func CheckDeflateAnswer(values []string) (bool, error) {
	exts := extensions(values)
	switch {
	case len(exts) == 0:
		return false, nil
	case len(exts) > 1:
		return false, fmt.Errorf("backend enabled %d extensions", len(exts))
	}
	name, params, ok := extParams(exts[0])
	if name != deflateName || !ok {
		return false, fmt.Errorf("backend enabled extension %q, not offered", exts[0])
	}
	if _, ok := params["server_no_context_takeover"]; !ok {
		return false, errors.New("backend's permessage-deflate keeps its context (server_no_context_takeover was offered)")
	}
	for k, v := range params {
		switch {
		case (k == "server_no_context_takeover" || k == "client_no_context_takeover") && v == "":
		case k == "server_max_window_bits" && windowBits(v):
		default:
			return false, fmt.Errorf("backend's permessage-deflate has parameter %q", k)
		}
	}
	return true, nil
}

// deflateTail ends a message's deflate data (RFC 7692 §7.2.2: the removed
// empty block) and adds a final empty block so the inflater sees an end.
var deflateTail = []byte("\x00\x00\xff\xff\x01\x00\x00\xff\xff")

var inflaters = sync.Pool{New: func() any { return flate.NewReader(nil) }}

// inflate decompresses a message's payload, refusing more than limit bytes
// of output (1009), data that does not inflate, and data after a final
// block (1007): a receiver that inflates past the final block would see
// bytes the relay never checked, in a message it passes compressed.
func inflate(p []byte, limit int64) ([]byte, error) {
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	in := &payloadReader{p: p, tail: deflateTail}
	_ = fr.(flate.Resetter).Reset(in, nil)
	var out bytes.Buffer
	out.Grow(int(min(limit, 2*int64(len(p))+512)))
	n, err := io.Copy(&out, io.LimitReader(fr, limit+1))
	switch {
	case n > limit:
		return nil, &protocolError{CloseMessageTooBig, "message too big"}
	case err != nil:
		return nil, &protocolError{CloseInvalidPayload, "compressed message does not inflate"}
	case !zeroPadding(in.p):
		return nil, &protocolError{CloseInvalidPayload, "data after the compressed message's final block"}
	}
	return out.Bytes(), nil
}

// zeroPadding reports whether rest, what a message's payload holds after
// its final deflate block, is at most the few zero bytes a sender that
// ends with a final block leaves (RFC 7692 §7.2.3.3).
func zeroPadding(rest []byte) bool {
	if len(rest) > 4 {
		return false
	}
	for _, b := range rest {
		if b != 0 {
			return false
		}
	}
	return true
}

// payloadReader reads a payload, then tail, a byte at a time if asked
// (an io.ByteReader: the inflater then reads no further than it needs, so
// p keeps exactly what it did not consume).
type payloadReader struct{ p, tail []byte }

func (r *payloadReader) Read(b []byte) (int, error) {
	src := &r.p
	if len(r.p) == 0 {
		src = &r.tail
	}
	if len(*src) == 0 {
		return 0, io.EOF
	}
	n := copy(b, *src)
	*src = (*src)[n:]
	return n, nil
}

func (r *payloadReader) ReadByte() (byte, error) {
	src := &r.p
	if len(r.p) == 0 {
		src = &r.tail
	}
	if len(*src) == 0 {
		return 0, io.EOF
	}
	c := (*src)[0]
	*src = (*src)[1:]
	return c, nil
}
