#!/usr/bin/env python3
"""Verify gateway tokens with an independent JWT implementation (PyJWT).

Usage: verify_jwt.py DISCOVERY_URL CAFILE < tokens.json
tokens.json: [{"token": "...", "alg": "ES256", "aud": "tokenbased", "tamper": false}, ...]
(a tampered token must be refused: "refused ALG")

Reads the OpenID discovery document, checks its issuer, fetches the JWKS it
names and verifies each token's signature (pinned to its algorithm), issuer,
audience and expiry. Prints "ok ALG" per token; exits 1 on the first failure.
"""
import json
import ssl
import sys
import urllib.request

import jwt


def fetch(url, ctx):
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        return json.load(r)


def main():
    discovery_url, cafile = sys.argv[1], sys.argv[2]
    ctx = ssl.create_default_context(cafile=cafile)
    doc = fetch(discovery_url, ctx)
    issuer = doc["issuer"]
    keys = {k["kid"]: k for k in fetch(doc["jwks_uri"], ctx)["keys"]}
    for item in json.load(sys.stdin):
        token, alg = item["token"], item["alg"]
        header = jwt.get_unverified_header(token)
        if header.get("alg") != alg:
            print("header alg %s, want %s" % (header.get("alg"), alg))
            return 1
        jwk = keys.get(header.get("kid"))
        if jwk is None:
            print("kid %s not in the JWKS" % header.get("kid"))
            return 1
        key = jwt.PyJWK(jwk).key
        opts = {"require": ["exp", "iat", "sub", "jti"]}
        try:
            claims = jwt.decode(token, key, algorithms=[alg], issuer=issuer,
                                audience=item.get("aud"), options=opts)
        except Exception as e:  # noqa: BLE001
            if item.get("tamper"):
                print("refused %s %s" % (alg, type(e).__name__))
                continue
            print("%s: %s: %s" % (alg, type(e).__name__, e))
            return 1
        if item.get("tamper"):
            print("%s: a tampered token verified" % alg)
            return 1
        print("ok %s %s" % (alg, claims["sub"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
