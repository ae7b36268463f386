// Package store defines the durable state of the gateway: the Store
// interface, its errors, and the records it keeps (topologies with their
// history, audit records, objects such as aliases and token policies, and
// small meta values). Implementations live in sub-packages (bolt) and must
// pass the conformance suite in storetest.
package store
