// Package etcdtest runs a real etcd cluster for tests: N members of the
// Debian etcd server (/usr/bin/etcd, package etcd-server, installed by
// scripts/test-deps.sh), one process each, on loopback with ports the
// kernel picked and data directories removed afterwards. Members can be
// killed, paused (SIGSTOP) and restarted, for fault tests.
package etcdtest
