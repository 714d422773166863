#!/usr/bin/python3
"""console_saml_test.py: SAML login in the web console in a real browser (issue 12, S-8).

Run by tests/integration/console_browser.sh after console_test.py. A test identity
provider's page is served over HTTPS from another site (https://localhost:IDP_PORT, the
console being https://127.0.0.1:PORT) and posts a signed Response (xmlsec1, made by the
shell) to the console's assertion consumer, as an identity provider's page does:

  1. a fresh browser of gwa opens the console, uses "Sign in with identity provider"
     (context alpha): /console/saml/start sends it to the identity provider, whose page
     posts the assertion cross-site to /console/saml/acs; the dashboard then loads;
  2. another fresh browser posts the same (now used) assertion: refused as replayed, no
     session; the console shows its login page.

Environment: CON, OUT_DIR, HOME_GWA, IDP_PORT, IDP_DIR (the page idp-post.html),
IDP_TLS_CERT, IDP_TLS_KEY. Exit 0 pass, 1 fail.
"""
import http.server
import os
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_test as t  # noqa: E402  (helpers: browser, check, wait, shot, labels)
from console_test import By, EC, Keys, TimeoutException, WebDriverException  # noqa: E402

CON = os.environ["CON"]
IDP = f"https://localhost:{os.environ['IDP_PORT']}"


def idp_server():
    """The identity provider's pages: a static HTTPS server for IDP_DIR."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=os.environ["IDP_DIR"], **kw)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["IDP_PORT"])), Quiet)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["IDP_TLS_CERT"], os.environ["IDP_TLS_KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    srv = idp_server()
    a = b = None
    try:
        a = t.browser(os.environ["HOME_GWA"], "gwa-saml", "chromium-profile-saml")
        a.get(CON + "/")
        try:
            t.wait(a, EC.visibility_of_element_located((By.ID, "saml-context")))
        except TimeoutException:
            t.shot(a, "saml-no-login")
            t.check("saml: the login page offers 'Sign in with identity provider'", False,
                    a.page_source[:300])
            return
        t.ok("saml: the login page offers 'Sign in with identity provider'")
        t.check_labels(a, "login (with the identity provider form)")
        t.check("saml: no session before the identity provider posted (no nav)",
                not a.find_element(By.ID, "nav").is_displayed())
        a.find_element(By.ID, "saml-context").send_keys("alpha" + Keys.ENTER)
        try:
            t.wait(a, EC.visibility_of_element_located((By.ID, "nav")), 30)
            t.wait(a, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#view h1"), "Dashboard"))
        except TimeoutException:
            t.shot(a, "saml-login-failed")
            t.check("saml: identity provider -> assertion posted cross-site -> dashboard", False,
                    a.current_url + " " + a.find_element(By.TAG_NAME, "body").text[:300])
            return
        t.ok("saml: identity provider -> assertion posted cross-site -> dashboard")
        t.check("saml: logged in as gwa (alpha)", "gwa (alpha)" in a.find_element(By.ID, "who").text,
                a.find_element(By.ID, "who").text)
        t.check("saml: back on the console's origin", a.current_url.startswith(CON + "/"), a.current_url)
        t.check("saml: the session cookie is HttpOnly (not visible to scripts)",
                "torwart" not in a.execute_script("return document.cookie"))
        t.shot(a, "saml-dashboard")
        t.check("saml: no Content-Security-Policy violation", not t.csp_violations(a))

        # The same assertion again, from a browser without a session: one-time use.
        b = t.browser(os.environ["HOME_GWA"], "gwa-saml2", "chromium-profile-saml2")
        b.get(IDP + "/idp-post.html")
        try:
            t.wait(b, lambda d: d.current_url.startswith(CON) and "saml_replayed" in
                   d.find_element(By.TAG_NAME, "body").text, 30)
            t.ok("saml: the replayed assertion is refused (saml_replayed)")
        except TimeoutException:
            t.check("saml: the replayed assertion is refused (saml_replayed)", False,
                    b.current_url + " " + b.find_element(By.TAG_NAME, "body").text[:300])
        t.shot(b, "saml-replayed")
        b.get(CON + "/")
        try:
            t.wait(b, EC.visibility_of_element_located((By.ID, "login-secret")))
            t.check("saml: ... and opened no session (the console shows its login)",
                    not b.find_element(By.ID, "nav").is_displayed())
        except TimeoutException:
            t.check("saml: ... and opened no session (the console shows its login)", False,
                    b.find_element(By.TAG_NAME, "body").text[:300])
    finally:
        for d in (a, b):
            if d is not None:
                try:
                    d.quit()
                except WebDriverException:
                    pass
        srv.shutdown()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash of the test is a failure, with its reason
        t.bad("the SAML browser test ran to its end", repr(e))
    print(f"{t.passed} passed, {t.failed} failed (SAML browser)")
    sys.exit(0 if t.failed == 0 and t.passed > 0 else 1)
