// Package fieldline writes one HTTP field line ("Name: value\r\n") into a
// bufio.Writer: appended into the buffer's room and written once when it
// fits, else written piece by piece. The backend request's head (package
// h1) and the lean front's answer head (package frontend) write their
// fields with it; what a value may hold is theirs to check first.
package fieldline
