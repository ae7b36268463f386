package rewrite

import "testing"

// Script elements that are not JavaScript but hold URLs the page uses:
// an import map and speculation rules (JSON the browser itself loads
// from, root-relative URLs included) are read as JavaScript's literals;
// a JSON data block (read by the page's script) as JSON, its absolute
// backend URLs mapped. Other data blocks stay as they came.
func TestScriptDataBlocks(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"import map",
			`<script type="importmap">{"imports":{"app":"/static/app.js","lib/":"http://ui.internal:8088/lib/"}}</script>`,
			`<script type="importmap">{"imports":{"app":"/gateway/t/ui/static/app.js","lib/":"https://gw.example/gateway/t/ui/lib/"}}</script>`},
		{"speculation rules",
			`<script type=speculationrules>{"prefetch":[{"source":"list","urls":["/cluster/apps"]}]}</script>`,
			`<script type=speculationrules>{"prefetch":[{"source":"list","urls":["/gateway/t/ui/cluster/apps"]}]}</script>`},
		{"json data block",
			`<script type="application/json" id="cfg">{"api":"http:\/\/ui.internal:8088\/ws\/v1","p":"/tmp/data"}</script>`,
			`<script type="application/json" id="cfg">{"api":"https:\/\/gw.example\/gateway\/t\/ui\/ws\/v1","p":"/tmp/data"}</script>`},
		{"json-ld with parameters",
			`<script type="Application/LD+JSON; charset=utf-8">{"url":"http://hidden.internal/x"}</script>`,
			`<script type="Application/LD+JSON; charset=utf-8">{"url":"about:blank"}</script>`},
		{"other data block", `<script type="text/plain">"/static/x" "http://ui.internal:8088/"</script>`,
			`<script type="text/plain">"/static/x" "http://ui.internal:8088/"</script>`},
		{"javascript still", `<script type="text/javascript">go("/x")</script>`,
			`<script type="text/javascript">go("/gateway/t/ui/x")</script>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: "/gateway/t/ui"})
			if err != nil || got != tt.want {
				t.Errorf("got\n%s (%v)\nwant\n%s", got, err, tt.want)
			}
		})
	}
}
