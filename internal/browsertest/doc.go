// Package browsertest drives a real headless Chromium (Debian's chromium) from
// Go tests through the DevTools protocol (chromedp): pages served through the
// gateway are loaded, forms filled, scripts run, and everything the page
// fetched is recorded, so that a test can assert what a browser user sees and
// that no request left the gateway's origin.
//
// One Browser is one Chromium process with a fresh, empty profile in a
// temporary directory; it is stopped and the profile removed by t.Cleanup.
// Chromium is started as the machine's probe found works here: headless, no
// sandbox when running as root, no GPU, no QUIC, and no background
// networking (the machine's network is closed).
//
// When Chromium is not installed the test fails with a message naming the
// Debian package (scripts/test-deps.sh installs it); it does not skip.
package browsertest
