package kerberos

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// accepted is what a good Negotiate token says.
type accepted struct {
	client  string    // user@REALM
	expires time.Time // the ticket's end time
	reply   string    // base64 mutual-authentication token; "" when not asked
}

// tokKRB5APREQ and tokKRB5APREP are the token ids of RFC 4121 §4.1.
var (
	tokKRB5APREQ = []byte{0x01, 0x00}
	tokKRB5APREP = []byte{0x02, 0x00}
)

// accept verifies a Negotiate token: a SPNEGO NegTokenInit carrying a
// Kerberos AP-REQ (or a bare Kerberos GSS token), for the service principal,
// within the clock skew, not replayed.
func (h *Handler) accept(token string) (accepted, error) {
	raw, err := decodeToken(token)
	if err != nil {
		return accepted{}, err
	}
	mech, krb5raw, err := mechToken(raw)
	if err != nil {
		return accepted{}, err
	}
	var kt spnego.KRB5Token
	if err := kt.Unmarshal(krb5raw); err != nil {
		return accepted{}, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if !kt.IsAPReq() {
		return accepted{}, fmt.Errorf("%w: not an AP-REQ", errBadToken)
	}
	req := &kt.APReq
	if h.spn != nil && (!req.Ticket.SName.Equal(*h.spn) || req.Ticket.Realm != h.spnRealm) {
		return accepted{}, fmt.Errorf("ticket for %s@%s, not for the service principal", req.Ticket.SName.PrincipalNameString(), req.Ticket.Realm)
	}
	if ok, err := req.Verify(h.kt, h.skew, types.HostAddress{}, h.spn); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("ticket not valid")
		}
		return accepted{}, err
	}
	a := req.Authenticator
	now := h.clock.Now()
	ct := a.CTime.Add(time.Duration(a.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > h.skew || -d > h.skew {
		return accepted{}, fmt.Errorf("clock skew %v beyond %v", d.Round(time.Second), h.skew)
	}
	// Past its end time a ticket is refused here, with the challenge (the
	// chain would refuse the principal as expired anyway).
	if end := req.Ticket.DecryptedEncPart.EndTime; !now.Before(end) {
		return accepted{}, fmt.Errorf("ticket expired at %v", end)
	}
	client := a.CName.PrincipalNameString() + "@" + a.CRealm
	// A replay is the same authenticator sent again: as MIT's replay cache
	// does (since 1.18), the key is a digest of the server and the
	// authenticator's ciphertext, which nobody without the session key can
	// vary (two clients' authenticators made in the same microsecond stay
	// distinct). It is kept while the authenticator could be within the skew.
	d := sha256.New()
	d.Write([]byte(req.Ticket.SName.PrincipalNameString() + "@" + req.Ticket.Realm + "\x00"))
	d.Write(req.EncryptedAuthenticator.Cipher)
	key := string(d.Sum(nil)[:16])
	if h.replay.Seen(key, ct.Add(h.skew+time.Second)) {
		return accepted{}, fmt.Errorf("replayed authenticator of %s", client)
	}
	res := accepted{client: client, expires: req.Ticket.DecryptedEncPart.EndTime}
	if mutualRequested(req) {
		rep, err := apRep(req, mech)
		if err != nil {
			return accepted{}, fmt.Errorf("building the mutual-authentication token: %w", err)
		}
		res.reply = rep
	}
	return res, nil
}

// mechToken finds the Kerberos token in a Negotiate token: the mech token of
// a SPNEGO NegTokenInit whose first mechanism is Kerberos (mech says which
// OID, for the answer), or a bare Kerberos token (mech nil).
func mechToken(raw []byte) (mech asn1.ObjectIdentifier, krb5 []byte, err error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.UnmarshalWithParams(raw, &oid, "application,explicit,tag:0"); err == nil && oid.Equal(gssapi.OIDKRB5.OID()) {
		return nil, raw, nil
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if !st.Init {
		return nil, nil, fmt.Errorf("%w: not a NegTokenInit", errBadToken)
	}
	ti := st.NegTokenInit
	if len(ti.MechTypes) == 0 || len(ti.MechTokenBytes) == 0 {
		return nil, nil, fmt.Errorf("%w: no mechanism token", errBadToken)
	}
	// The optimistic token is for the client's first mechanism.
	first := ti.MechTypes[0]
	if !first.Equal(gssapi.OIDKRB5.OID()) && !first.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, nil, fmt.Errorf("%w: mechanism %s is not Kerberos", errBadToken, first)
	}
	return first, ti.MechTokenBytes, nil
}

// mutualRequested reports whether the client asked for mutual
// authentication: the mutual-required AP option, or GSS_C_MUTUAL_FLAG in
// the authenticator's GSS checksum (RFC 4121 §4.1.1).
func mutualRequested(req *messages.APReq) bool {
	if types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		return true
	}
	ck := req.Authenticator.Cksum
	return ck.CksumType == chksumtype.GSSAPI && len(ck.Checksum) >= 24 &&
		binary.LittleEndian.Uint32(ck.Checksum[20:24])&gssapi.ContextFlagMutual != 0
}

// encAPRepPart is RFC 4120's EncAPRepPart, without the optional subkey
// and sequence number.
type encAPRepPart struct {
	CTime time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec int       `asn1:"explicit,tag:1"`
}

type apRepMsg struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	EncPart types.EncryptedData `asn1:"explicit,tag:2"`
}

// apRep builds the answer to a mutual-authentication request: an AP-REP
// with the authenticator's time, encrypted in the ticket's session key, in
// a Kerberos GSS token, in a SPNEGO NegTokenResp (accept-completed) when
// the client spoke SPNEGO (mech not nil). It returns it in base64.
func apRep(req *messages.APReq, mech asn1.ObjectIdentifier) (string, error) {
	enc, err := asn1.Marshal(encAPRepPart{CTime: req.Authenticator.CTime.UTC(), Cusec: req.Authenticator.Cusec})
	if err != nil {
		return "", err
	}
	enc = asn1tools.AddASNAppTag(enc, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(enc, req.Ticket.DecryptedEncPart.Key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return "", err
	}
	rep, err := asn1.Marshal(apRepMsg{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return "", err
	}
	rep = asn1tools.AddASNAppTag(rep, asnAppTag.APREP)
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return "", err
	}
	gss := asn1tools.AddASNAppTag(append(append(oid, tokKRB5APREP...), rep...), 0)
	if mech == nil {
		return base64.StdEncoding.EncodeToString(gss), nil
	}
	resp := spnego.NegTokenResp{NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: mech, ResponseToken: gss}
	b, err := resp.Marshal()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// krb5APReqToken wraps an AP-REQ in a Kerberos GSS token (RFC 4121 §4.1).
func krb5APReqToken(req messages.APReq) ([]byte, error) {
	b, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, err
	}
	return asn1tools.AddASNAppTag(append(append(oid, tokKRB5APREQ...), b...), 0), nil
}

// spnegoInit wraps a Kerberos GSS token in a SPNEGO NegTokenInit and
// returns the Authorization value "Negotiate <base64>".
func spnegoInit(krb5 []byte) (string, error) {
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes:      []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()},
		MechTokenBytes: krb5,
	}}
	b, err := st.Marshal()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(challenge + " ")
	sb.WriteString(base64.StdEncoding.EncodeToString(b))
	return sb.String(), nil
}
