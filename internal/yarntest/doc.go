// Package yarntest is a YARN ResourceManager web application for tests:
// the REST API under /ws/v1/cluster and the UI under /cluster, with an
// HA switch that answers as Hadoop's RMWebAppFilter does on a standby RM.
//
// Active, the RM answers GET /ws/v1/cluster/info (haState ACTIVE),
// GET /ws/v1/cluster/apps, POST /ws/v1/cluster/apps/new-application (a new
// application id), GET /cluster and /cluster/apps (HTML pages), and, for
// an application it does not know, GET /cluster/app/{id} with a 307 to the
// application history server (SetHistory), as an RM with the timeline
// service does. HEAD is answered as GET, without the body (as a servlet's
// doHead): a standby's answer to it is its status and head alone.
//
// SetStandby(active) makes it a standby that knows active as the active RM:
// every request but GET /ws/v1/cluster/info (then haState STANDBY) and
// /cluster gets 307 Temporary Redirect with Location on the active RM and
// the body "This is standby RM. The redirect url is: {URL}" (Hadoop 2's
// wording, the full URL). SetStandby(nil) makes it a standby that knows no
// active RM: 307 with a Refresh header on itself and "Can not find any
// active RM. Will retry in next N seconds." (N = 5·2^n, as a whole
// number, for the request's next.refresh.interval n, which the Refresh URL
// counts up), and, for an n past 5 (N over 300) or no number, Hadoop 3's
// 200 "There is no active RM right now.". SetLegacyStandby(active) makes it a standby as older
// Hadoop 2 releases answer: 200 with "Refresh: 3; url={URL}" and "This is
// standby RM. Redirecting to the current active RM: {URL}", the URL being
// the request's path (without its query) on the active RM, or alone with
// nil. SetActive ends any of them.
//
//	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
//	rm1.SetStandby(rm2)   // rm1 redirects to rm2
//	rm1.URL()             // http://127.0.0.1:PORT
//	rm2.Requests()        // what reached rm2
package yarntest
