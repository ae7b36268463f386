// Package webhdfstest is a WebHDFS namenode and datanode pair for tests,
// written to Hadoop's WebHDFS REST API specification
// (hadoop-project-dist/hadoop-hdfs/WebHDFS.html), and a Go client of it.
//
// The namenode answers LISTSTATUS, GETFILESTATUS, MKDIRS, RENAME and
// DELETE itself, and CREATE, APPEND and OPEN with a 307 Temporary Redirect
// to the datanode (the two-step protocol: no data is sent before the
// redirect), or with {"Location": …} under noredirect=true. The datanode
// stores file contents on disk, streaming, so a test can move a GiB; CREATE
// makes the missing parent directories unless createparent=false, as HDFS does.
// user.name is pseudo authentication: the namenode passes it on in the
// datanode URL, and the datanode creates files owned by the user.name its
// request carries. Errors are RemoteException JSON with Hadoop's statuses.
// SetStandby turns the namenode into an HA standby, which answers every
// request 403 StandbyException as Hadoop's does; SetSafeMode makes it
// refuse its next n namespace changes with 403 SafeModeException (or
// RetriableException, as an HA namenode starting up does); Protect makes a
// path answer 403 AccessControlException to anyone but hdfs.
//
//	c := webhdfstest.Start(t)           // namenode and datanode on loopback
//	c.NamenodeURL()                     // http://127.0.0.1:PORT/webhdfs
//	c.DatanodeRequests()                // what reached the datanode
//
// Client drives the protocol as a Go application would: the two steps of
// CREATE and APPEND explicitly (the body goes only to the Location), OPEN
// following the redirect.
package webhdfstest
