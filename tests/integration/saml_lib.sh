# saml_lib.sh: a test identity provider for the console's SAML login (sourced after lib.sh
# by console_saml.sh and console_browser.sh). Its key and self-signed certificate are made
# here with openssl and the xmlsec1 command-line tool signs, so the signer is not
# Torwart's code.
#
# In: T (temporary directory), SAML_IDP (the identity provider's entity id), SAML_SP
# (this GWA's entity id, [saml] entity_id). Makes $T/idp.key and $T/idp.crt.
saml_idp_keys() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/idp.key" -out "$T/idp.crt" \
		-days 2 -subj "/CN=Test IdP" 2>>"$T/log"
}
saml_ts() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# saml_response OUT ID NAMEID RECIPIENT [NOTONORAFTER] [IN_RESPONSE_TO] [nosig]
# An unsigned samlp:Response (Destination = RECIPIENT) holding one Assertion that the IdP
# key signs (the usual shape of the HTTP-POST binding), valid from a minute ago.
saml_response() {
	local out=$1 id=$2 nameid=$3 rcpt=$4 until=${5:-$(saml_ts '+5 min')} irt=${6:-} nosig=${7:-}
	local irt_attr="" sig
	[ -n "$irt" ] && irt_attr=" InResponseTo=\"$irt\""
	sig="<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>
<ds:Reference URI=\"#$id\"><ds:Transforms>
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>
<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
	[ "$nosig" = nosig ] && sig=""
	cat >"$T/saml-a.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="$id" Version="2.0" IssueInstant="$(saml_ts now)">
<saml:Issuer>$SAML_IDP</saml:Issuer>
$sig
<saml:Subject><saml:NameID>$nameid</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData NotOnOrAfter="$until" Recipient="$rcpt"$irt_attr/>
</saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="$(saml_ts '-1 min')" NotOnOrAfter="$until">
<saml:AudienceRestriction><saml:Audience>$SAML_SP</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AuthnStatement AuthnInstant="$(saml_ts now)"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
</saml:Assertion>
XML
	if [ "$nosig" = nosig ]; then
		cp "$T/saml-a.xml" "$T/saml-s.xml"
	else
		xmlsec1 --sign --privkey-pem "$T/idp.key,$T/idp.crt" \
			--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
			--output "$T/saml-s.xml" "$T/saml-a.xml" 2>>"$T/log" || return 1
	fi
	{ printf '<?xml version="1.0" encoding="UTF-8"?>\n'
	  printf '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="R%s" Version="2.0" IssueInstant="%s" Destination="%s"%s>' \
		"$id" "$(saml_ts now)" "$rcpt" "$irt_attr"
	  printf '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>\n'
	  sed '1d' "$T/saml-s.xml"
	  printf '</samlp:Response>\n'; } >"$out"
}
