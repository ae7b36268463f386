// Package flagerr words command-line flag errors for people: the flag and
// the value it was given, without the parser's internals. gatewayd and
// gatewayctl both use it (cobra's SetFlagErrorFunc).
package flagerr
