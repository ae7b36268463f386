// Package basic is the "basic" authentication provider: HTTP Basic
// credentials checked against users listed in the topology.
//
// Params:
//
//	user.NAME   the hash of NAME's password (or ${alias:ALIAS} holding it)
//	users       NAME:HASH entries separated by commas, spaces or new lines
//	            (names with '$' need user.NAME); may be ${alias:ALIAS}
//	realm       the realm of the challenge; default the topology's name
//	cache_ttl   how long a checked password is remembered; default 60s, 0 off
//
// A hash is an argon2id PHC string, $argon2id$v=19$m=65536,t=3,p=4$SALT$HASH
// (unpadded base64; m at most 1 GiB, t at most 64), or a bcrypt hash
// ($2a$, $2b$ or $2y$, cost at most 16). Anything else, a name given twice,
// or a name with ':' or control characters fails the deploy with an error
// naming the param; errors never repeat a hash.
//
// Missing or wrong credentials get 401 with
// WWW-Authenticate: Basic realm="…", charset="UTF-8". An empty password is
// always refused. A name that is not configured is checked against a dummy
// hash of the scheme most users have, so that it takes as long as a known
// name with a wrong password: timing does not tell which names exist.
// Passwords longer than 72 bytes never match a bcrypt hash (bcrypt would
// ignore the rest). At most GOMAXPROCS hash checks run at once.
//
// The cache holds, per configured user, an HMAC-SHA256 of the last
// password that matched (under a random key made with the handler, never
// the password itself) for cache_ttl, so that clients that send
// credentials on every request do not pay a memory-hard hash every time.
// A request that already carries a principal passes unchanged.
package basic
