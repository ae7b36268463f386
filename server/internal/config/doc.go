// Package config is gatewayd's configuration: the gateway.yaml file, decoded
// strictly (unknown keys are errors), its defaults, and its validation.
package config
