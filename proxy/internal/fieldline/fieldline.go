package fieldline

import "bufio"

// Write writes "k: v\r\n" to w; the error is w's, as a later Flush reports.
func Write(w *bufio.Writer, k, v string) {
	if w.Available() < len(k)+len(v)+4 {
		_, _ = w.WriteString(k)
		_, _ = w.WriteString(": ")
		_, _ = w.WriteString(v)
		_, _ = w.WriteString("\r\n")
		return
	}
	b := append(w.AvailableBuffer(), k...)
	b = append(b, ": "...)
	b = append(b, v...)
	_, _ = w.Write(append(b, "\r\n"...))
}
