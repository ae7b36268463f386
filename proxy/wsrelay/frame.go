package wsrelay

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Close codes (RFC 6455 §7.4.1) the relay sends.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseNoStatus        = 1005 // never on the wire: a close frame without a code
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
)

// maxHeader is the longest frame header: 2 + 8 (length) + 4 (mask key).
const maxHeader = 14

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	key    [4]byte
	length int64
}

func (h *header) control() bool { return h.op&0x8 != 0 }

// appendHeader encodes h (without its mask key when masked is false).
func appendHeader(b []byte, fin bool, op byte, length int64, masked bool, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	switch {
	case length <= 125:
		b = append(b, b0, m|byte(length))
	case length <= 0xFFFF:
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	}
	if masked {
		b = append(b, key[:]...)
	}
	return b
}

// maskBytes XORs b with key starting at key offset pos; it returns the
// offset after b.
func maskBytes(key [4]byte, pos int, b []byte) int {
	// Word at a time once aligned on the key.
	i := 0
	for ; i < len(b) && pos&3 != 0; i++ {
		b[i] ^= key[pos&3]
		pos++
	}
	if len(b)-i >= 8 {
		k32 := binary.LittleEndian.Uint32(key[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for ; len(b)-i >= 8; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[pos&3]
		pos++
	}
	return pos & 3
}

// validCloseCode reports whether code may appear in a close frame
// (RFC 6455 §7.4; 1005, 1006 and 1015 are never sent).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ClosePayload is the payload of a close frame with code and reason
// (reason cut to fit the 125-byte control frame limit on a rune boundary).
func ClosePayload(code int, reason string) []byte {
	if code == CloseNoStatus {
		return nil
	}
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	return append(b, reason...)
}

// checkClosePayload returns the close code a received close payload calls
// for when it is malformed (0 when it is good).
func checkClosePayload(p []byte) int {
	switch {
	case len(p) == 0:
		return 0
	case len(p) == 1:
		return CloseProtocolError
	case !validCloseCode(int(binary.BigEndian.Uint16(p))):
		return CloseProtocolError
	case !utf8.Valid(p[2:]):
		return CloseInvalidPayload
	}
	return 0
}

// utf8Stream validates text split across frames and reads: it carries an
// incomplete trailing sequence (at most 3 bytes) to the next piece.
type utf8Stream struct {
	carry [4]byte
	n     int
}

// write validates p after the carried bytes; false on invalid UTF-8.
func (u *utf8Stream) write(p []byte) bool {
	for u.n > 0 && len(p) > 0 {
		u.carry[u.n] = p[0]
		u.n++
		p = p[1:]
		if utf8.FullRune(u.carry[:u.n]) {
			if r, _ := utf8.DecodeRune(u.carry[:u.n]); r == utf8.RuneError {
				return false
			}
			u.n = 0
		} else if u.n == 4 {
			return false
		}
	}
	if u.n > 0 {
		return true // p consumed into the carry
	}
	// The last up to 3 bytes may start an incomplete rune.
	tail := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				tail = i
			}
			break
		}
	}
	if !utf8.Valid(p[:tail]) {
		return false
	}
	u.n = copy(u.carry[:], p[tail:])
	if u.n > 0 && !validPrefix(u.carry[:u.n]) {
		return false
	}
	return true
}

// end reports whether the message ended on a rune boundary.
func (u *utf8Stream) end() bool {
	ok := u.n == 0
	u.n = 0
	return ok
}

// validPrefix reports whether b (an incomplete sequence) can still become
// a valid rune: utf8.FullRune is false for it, and no completion is
// refused outright by its first bytes (overlong forms, surrogates).
func validPrefix(b []byte) bool {
	var full [4]byte
	copy(full[:], b)
	// Complete with the smallest continuation byte that fits the rules of
	// RFC 3629 for the lead byte, and check the result.
	for i := len(b); i < 4; i++ {
		full[i] = 0x80
	}
	lo, hi := byte(0x80), byte(0xBF)
	switch b[0] {
	case 0xE0:
		lo = 0xA0
	case 0xED:
		hi = 0x9F
	case 0xF0:
		lo = 0x90
	case 0xF4:
		hi = 0x8F
	}
	if b[0] < 0xC2 || b[0] > 0xF4 {
		return false
	}
	if len(b) > 1 && (b[1] < lo || b[1] > hi) {
		return false
	}
	if len(b) > 2 && (b[2] < 0x80 || b[2] > 0xBF) {
		return false
	}
	return true
}

// websocketGUID is the handshake's fixed GUID (RFC 6455 §1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ValidKey reports whether a Sec-WebSocket-Key is the base64 of 16 bytes.
func ValidKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}
