// Package match parses and evaluates the lists that provider params hold:
// names with a "*" wildcard (users, groups) and source addresses (IPs and
// CIDR ranges, IPv4 and IPv6). Entries are comma-separated and trimmed;
// parsing is strict and errors name the param, so a typo refuses the
// deploy instead of silently matching nothing (or everything).
package match
