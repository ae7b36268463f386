// Package jwtkit holds what the token service (server) and the JWT
// provider (proxy) share about JSON Web Tokens: signing keys of every
// algorithm the gateway signs with, their RFC 7638 thumbprints, JWK and
// JWKS documents, and a strict parser that refuses what golang-jwt would
// let through silently (duplicate JSON keys, oversized tokens).
package jwtkit
