// Package rewrite rewrites the links in web UI response bodies while they
// stream through the gateway: HTML (with golang.org/x/net/html's
// tokenizer, never regular expressions over markup), CSS, JavaScript and
// JSON, gzip and deflate bodies decoded on the way.
//
// What is a link, per kind of body:
//   - HTML: URL attributes (href, src, action, formaction, poster, data,
//     background, cite, manifest, icon, xlink:href, codebase, the URLs
//     of srcset, imagesrcset and ping),
//     meta refresh, inline style attributes and <style> as CSS, and
//     <script> as JavaScript (JavaScript types, and import maps and
//     speculation rules, whose root-relative URLs the browser loads), or
//     as JSON (application/json and …+json data blocks); other data
//     blocks are left alone. A URL attribute is
//     read as a browser reads it against the page's URL (browserurl.go:
//     spaces around it, tabs and line breaks in it dropped, backslashes
//     as slashes, "http:host" and "http:/host" as "http://host" unless the
//     page is http, where they are a relative and a root-relative path,
//     Options.PageScheme). A javascript: URL in one of them is JavaScript,
//     rewritten percent-decoded (as the browser runs it) and written back
//     percent-encoded. An event handler attribute (any name starting
//     with "on" and longer: onclick, onload, …) is JavaScript too,
//     rewritten as the value the tokenizer decoded (entities and all).
//     A srcdoc is an HTML document, rewritten as one;
//     srcdocs nest up to maxSrcdocDepth (3) deep, and one deeper, or one
//     whose rewritten document would be larger than MaxToken, is blanked
//     (srcdoc=""), never passed on unrewritten. A changed tag is written
//     back with every value double-quoted and escaped (html.EscapeString's
//     set). Everything else is copied
//     byte for byte as the tokenizer saw it. Inside <svg> and <math>,
//     where a browser's tree builder reads <style>, <script>, <title>,
//     <plaintext>, … as markup, so does the rewriter (foreign.go): an
//     <img> in them breaks out of the SVG and is rewritten as a tag, and
//     the text of an SVG <style> or <script> (character references
//     decoded, CDATA sections and the text around comments and child
//     elements joined) is rewritten as CSS or JavaScript and written back
//     escaped as text.
//   - CSS: url(…) values and quoted strings, read as the string they
//     spell ("http\3a //host\2f x" decoded) and, when rewritten, written
//     back with only what must be escaped escaped. One that the end of the
//     stylesheet (or style attribute) ends is rewritten too: the browser
//     loads it.
//   - JavaScript: string literals ('…', "…", `…`), read as the string
//     they spell ("http:\/\/host\/x", "\u002F", "\x2f" decoded) and,
//     when rewritten, written back escaped as they were ("\/" stays
//     "\/"). A literal with a bad escape is left as it came. The string
//     it spells is read as a browser reads a URL, as an attribute is,
//     when that makes it an absolute or network-path URL (the strings
//     http:\\host/x, \\host/x, " http:///host/x") or, on a page of its
//     scheme, http:/x a root-relative path; not when it only makes a
//     root-relative path (\d+, " /x": text or a regular expression's
//     source as likely). CSS strings likewise.
//   - JSON: string values, likewise.
//
// Each candidate goes through the Rules first (literal prefix or regular
// expression, per kind), then, unless a rule matched, the Mapper: the
// proxy maps absolute (http, https, ws, wss) URLs of the topology's
// backends and root-relative paths (not in JSON, whose strings are data)
// to the gateway. A candidate the Mapper refuses (it names an internal
// address no service covers) is replaced by "about:blank".
//
// Bounds: a decoded body larger than Options.MaxBytes, a compressed body
// that expands more than MaxRatio times in its first megabyte (a zip
// bomb: found by Prime, before any byte is sent), and an HTML token larger
// than Options.MaxToken end the stream with an error. String literals
// longer than maxString pass unchanged.
package rewrite
