package main

import (
	"strings"
	"testing"
)

// A changed alias reaches the live routes at once, an alias in use cannot
// be deleted, and redeploying an unchanged document publishes it again.
func TestSecretChangesReachLiveRoutes(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	hc := e.httpClient()
	backend := headerBackend(t)
	url := "https://" + d.proxy + "/gateway/rot/echo/"

	e.mustCtlIn("OLD-token-value\n", "alias", "create", "tok")
	e.mustCtl("topology", "deploy", writeFile(t, "rot.yaml", aliasTopologyDoc("rot", "tok", backend)))
	if _, body := httpGet(t, hc, url); body != "OLD-token-value" {
		t.Fatalf("before rotation the backend got %q", body)
	}

	// Rotating a leaked secret: the next request carries the new value.
	e.mustCtlIn("NEW-token-value\n", "alias", "create", "tok", "--overwrite")
	if _, body := httpGet(t, hc, url); body != "NEW-token-value" {
		t.Fatalf("after overwriting the alias the backend got %q", body)
	}

	// An alias that a deployed topology uses is not deleted.
	_, errOut, code := e.ctl("", "alias", "delete", "tok")
	if code == 0 || !strings.Contains(errOut, "rot") || strings.Contains(errOut, "revision mismatch") {
		t.Fatalf("deleting an alias in use: exit %d, %q", code, errOut)
	}
	if _, body := httpGet(t, hc, url); body != "NEW-token-value" {
		t.Fatalf("after the refused delete the backend got %q", body)
	}

	// Once no topology uses it, it can go.
	e.mustCtl("topology", "delete", "rot")
	e.mustCtl("alias", "delete", "tok")
}
