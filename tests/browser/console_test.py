#!/usr/bin/python3
"""console_test.py: the web console in a real browser (issue 15, section 2).

Run by tests/integration/console_browser.sh, which starts the stack and prepares one NSS
database per operator (a HOME each, holding only that operator's PKCS#12 certificate and
the console CA) plus the AutoSelectCertificateForUrls policy, so headless Chromium
presents the client certificate without a dialog. Two browsers, two operators:

  gwa (gateway operator)  logs in, creates a fleet order (four-eyes: threshold 1),
                          finds the alarm whose text holds control characters (shown
                          as visible escapes), watches the order's progress live;
  appr (approver)         logs in, sees exactly the command that will run, approves.

Accessibility basics on every page visited: each input, select and textarea has a label
(<label for> or aria-label), and the keyboard (Tab, Enter) reaches the main navigation,
the login, the fleet order form and the approve button. Screenshots go to OUT_DIR.

Environment: CON (https://127.0.0.1:PORT), OUT_DIR, HOME_GWA, HOME_APPR (the NSS homes),
PW_GWA, PW_APPR (password files), SIM_CMD (a shell command that makes the alarm's
gateways connect once and execute their jobs). Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import subprocess
import sys
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # pragma: no cover
    print(f"SKIP: selenium is not installed ({e}); apt-get install python3-selenium")
    sys.exit(77)

CON = os.environ["CON"]
OUT = os.environ["OUT_DIR"]
passed = 0
failed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok   - {what}", flush=True)


def bad(what, detail=""):
    global failed
    failed += 1
    print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)


def check(what, cond, detail=""):
    (ok if cond else lambda w: bad(w, detail))(what)
    return cond


def browser(home, name, profile="chromium-profile"):
    """Headless Chromium whose NSS database (HOME/.pki/nssdb) holds one operator; each
    profile has its own cookies."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={home}/{profile}", "--window-size=1280,1000",
              "--no-first-run", "--disable-extensions", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = dict(os.environ, HOME=home)
    service = Service("/usr/bin/chromedriver", env=env,
                      log_output=os.path.join(OUT, f"chromedriver-{name}.log")) \
        if "log_output" in Service.__init__.__code__.co_varnames else \
        Service("/usr/bin/chromedriver", env=env,
                log_path=os.path.join(OUT, f"chromedriver-{name}.log"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    return d


def shot(d, name):
    path = os.path.join(OUT, f"console-{name}.png")
    d.save_screenshot(path)
    print(f"     screenshot {path}")


def wait(d, cond, seconds=15):
    # Pages re-render on every route: an element found a moment ago may be gone.
    return WebDriverWait(d, seconds, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException]).until(cond)


def csp_violations(d):
    """Console messages that report a Content-Security-Policy violation."""
    try:
        logs = d.get_log("browser")
    except WebDriverException:
        return []
    return [e["message"] for e in logs if "Content Security Policy" in e.get("message", "")]


def unlabelled(d):
    """Form controls of the visible page without a label (ids or descriptions)."""
    return d.execute_script("""
        const out = [];
        for (const e of document.querySelectorAll('input, select, textarea')) {
          if (e.type === 'hidden' || e.offsetParent === null) continue;
          const byFor = e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]');
          const wrapped = e.closest('label');
          if (!byFor && !wrapped && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
            out.push(e.id || e.name || e.outerHTML.slice(0, 60));
        }
        return out;""")


def check_labels(d, page):
    missing = unlabelled(d)
    check(f"a11y: every form control on the {page} page has a label", not missing, str(missing))


def tab_until(d, target_id, limit=60):
    """Press Tab from the current focus until target_id has the focus (keyboard only)."""
    for _ in range(limit):
        if d.execute_script("return document.activeElement && document.activeElement.id") == target_id:
            return True
        d.switch_to.active_element.send_keys(Keys.TAB)
    return d.execute_script("return document.activeElement && document.activeElement.id") == target_id


def start_from_top(d):
    d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0,0);")
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)


def login(d, name, pwfile):
    d.get(CON + "/")
    try:
        wait(d, EC.visibility_of_element_located((By.ID, "login-secret")))
    except TimeoutException:
        shot(d, f"{name}-no-login")
        return check(f"{name}: the login page appears (client certificate accepted)", False,
                     d.page_source[:300])
    ok(f"{name}: the login page appears (client certificate presented from NSS)")
    check_labels(d, "login")
    with open(pwfile) as f:
        pw = f.read().strip()
    # Keyboard only: Tab to the password field, type, Enter submits.
    start_from_top(d)
    check(f"a11y: {name}: Tab reaches the password field", tab_until(d, "login-secret"))
    d.switch_to.active_element.send_keys(pw + Keys.ENTER)
    try:
        wait(d, EC.visibility_of_element_located((By.ID, "nav")))
        wait(d, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#view h1"), "Dashboard"))
    except TimeoutException:
        shot(d, f"{name}-login-failed")
        return check(f"{name}: logged in, dashboard shown", False,
                     d.find_element(By.ID, "status").text)
    ok(f"{name}: logged in, dashboard shown")
    check(f"{name}: the session cookie is HttpOnly (not visible to scripts)",
          "torwart" not in d.execute_script("return document.cookie"))
    return True


def main():
    sim_cmd = os.environ["SIM_CMD"]
    a = browser(os.environ["HOME_GWA"], "gwa")
    b = None
    try:
        if not login(a, "gwa", os.environ["PW_GWA"]):
            return
        shot(a, "dashboard")
        text = a.find_element(By.ID, "view").text
        check("dashboard: gateways, open alarms, jobs, approvals, CRL age, admin-log head",
              all(k in text for k in ("Gateways online", "Open alarms", "Jobs", "Pending approvals",
                                      "CRL age", "Admin log")), text[:400])
        check_labels(a, "dashboard")

        # Keyboard: every main navigation target and the logout button are reachable.
        start_from_top(a)
        for nav in ("nav-dashboard", "nav-gateways", "nav-fleet", "nav-approvals", "nav-alarms",
                    "nav-certificates", "nav-log", "logout"):
            check(f"a11y: Tab reaches {nav}", tab_until(a, nav, 40))
        start_from_top(a)
        tab_until(a, "nav-fleet")
        a.switch_to.active_element.send_keys(Keys.ENTER)
        wait(a, EC.visibility_of_element_located((By.ID, "fleet-form")))
        ok("fleet page opened with the keyboard (Enter on the navigation link)")
        check_labels(a, "fleet orders")

        # The fleet order, by keyboard: Tab through the labelled fields, Enter submits.
        f = a.find_element(By.ID, "fleet-type")
        f.clear()
        f.send_keys("ping")
        a.find_element(By.ID, "fleet-select").send_keys("tag")
        a.find_element(By.ID, "fleet-value").send_keys("shared")
        a.find_element(By.ID, "fleet-why").send_keys("weekly reachability check")
        check("a11y: Tab reaches the fleet order's submit button",
              tab_until(a, "fleet-form-submit", 10))
        a.switch_to.active_element.send_keys(Keys.ENTER)
        try:
            wait(a, EC.text_to_be_present_in_element((By.ID, "status"), "four-eyes request #"))
        except TimeoutException:
            shot(a, "fleet-refused")
            check("fleet order stored as a four-eyes request", False,
                  a.find_element(By.ID, "status").text)
            return
        status = a.find_element(By.ID, "status").text
        m = re.search(r"#(\d+)", status)
        check("fleet order stored as a four-eyes request", m is not None, status)
        approval = m.group(1)
        shot(a, "fleet-requested")

        # The alarm, with its control characters shown as escapes.
        a.find_element(By.ID, "nav-alarms").click()
        wait(a, EC.visibility_of_element_located((By.ID, "alarm-search")))
        check_labels(a, "alarms")
        view = a.find_element(By.ID, "view").text
        check("alarms: the tamper alarm of GW-A1 is listed", "GW-A1" in view and "tamper" in view, view[:300])
        check("alarms: ESC and the newline are shown as visible escapes",
              "lid open\\u001b[2K\\u000aforged line" in view, view[:400])
        check("alarms: no raw control character reaches the page", "\x1b" not in a.page_source)
        check("alarms: beta's alarm is not shown to alpha", "GW-B1" not in view)
        shot(a, "alarms")

        # Gateways: search by part of the id, open one, load its log.
        a.find_element(By.ID, "nav-gateways").click()
        wait(a, EC.visibility_of_element_located((By.ID, "gw-search")))
        check_labels(a, "gateways")
        a.find_element(By.ID, "gw-id").send_keys("a1" + Keys.ENTER)
        try:
            # The search re-renders the page: wait for the form that carries the query.
            wait(a, lambda d: d.find_element(By.ID, "gw-id").get_attribute("value") == "a1" and
                 "id=a1" in d.current_url)
            try:
                wait(a, lambda d: [r.text.split()[0] for r in
                                   d.find_elements(By.CSS_SELECTOR, "#view tbody tr")] == ["GW-A1"], 10)
                ok("gateways: a search for 'a1' lists GW-A1 only")
            except TimeoutException:
                check("gateways: a search for 'a1' lists GW-A1 only", False,
                      a.find_element(By.ID, "view").text[:300])
            a.find_element(By.LINK_TEXT, "GW-A1").click()
            wait(a, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#view h1"), "Gateway GW-A1"))
            view = a.find_element(By.ID, "view").text
            check("gateway page: wake-up address, tags, profiles, jobs and alarms",
                  all(k in view for k in ("Wake-up address", "shared", "Profiles", "Jobs", "tamper")), view[:400])
            a.find_element(By.ID, "gateway-logs-load").click()
            wait(a, lambda d: d.find_element(By.ID, "gateway-logs").text not in ("Not loaded.", "loading..."), 30)
            logs = a.find_element(By.ID, "gateway-logs").text
            check("gateway page: its log, through `gateway logs` as the operator (ran, header shown)",
                  logs.startswith("KIND") and "MESSAGE" in logs, logs[:300])
            check("gateway page: no raw control character in the log", "\x1b" not in a.page_source)
            shot(a, "gateway")
        except (TimeoutException, WebDriverException):
            shot(a, "gateway-failed")
            check("gateways: search, gateway page and log", False, a.find_element(By.ID, "view").text[:300])
        check("another tenant's gateway page says it does not exist",
              (a.get(CON + "/#/gateway/GW-B1") or True) and
              wait(a, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#view .error"), "GW-B1")))

        # The second operator approves: it sees exactly what will run.
        b = browser(os.environ["HOME_APPR"], "appr")
        if not login(b, "appr", os.environ["PW_APPR"]):
            return
        b.find_element(By.ID, "nav-approvals").click()
        try:
            wait(b, EC.visibility_of_element_located((By.ID, f"approval-{approval}")))
        except TimeoutException:
            shot(b, "approvals-missing")
            check(f"approvals: request #{approval} is pending", False, b.find_element(By.ID, "view").text[:300])
            return
        check_labels(b, "approvals")
        card = b.find_element(By.ID, f"approval-{approval}")
        argv = card.find_element(By.CSS_SELECTOR, "pre.argv").text
        check("approvals: the approver sees the command that will run",
              argv.startswith("torwart job create --type ping --tag shared"), argv)
        check("approvals: ... and who asked and why",
              "gwa" in card.text and "weekly reachability check" in card.text, card.text[:300])
        shot(b, "approval")
        b.find_element(By.ID, f"reason-{approval}").send_keys("checked with the requester")
        check("a11y: Tab reaches the approve button", tab_until(b, f"decide-{approval}-submit", 5))
        b.switch_to.active_element.send_keys(Keys.ENTER)
        try:
            wait(b, EC.text_to_be_present_in_element((By.ID, "status"), "approved"), 30)
            ok("approved by the second operator")
        except TimeoutException:
            shot(b, "approve-failed")
            check("approved by the second operator", False, b.find_element(By.ID, "status").text)
            return
        shot(b, "approved")

        # Back at the first operator: the order appears and its progress updates live.
        a.find_element(By.ID, "nav-fleet").click()
        try:
            wait(a, EC.presence_of_element_located((By.PARTIAL_LINK_TEXT, "Fleet order ")))
        except TimeoutException:
            check("fleet: the approved order is listed", False, a.find_element(By.ID, "view").text[:300])
            return
        a.find_element(By.PARTIAL_LINK_TEXT, "Fleet order ").click()
        wait(a, EC.visibility_of_element_located((By.ID, "fleet-progress")))
        before = a.find_element(By.ID, "fleet-progress").text
        check("fleet: progress shows 0 of 2 jobs final before the gateways connect",
              before.startswith("0 of 2"), before)
        shot(a, "fleet-progress-open")
        # The gateways connect and execute their jobs; the page polls (no reload by us).
        subprocess.run(sim_cmd, shell=True, check=False, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(a, EC.text_to_be_present_in_element((By.ID, "fleet-progress"), "2 of 2 jobs final"), 30)
            ok("fleet: the progress updated in place to 2 of 2 (polling)")
        except TimeoutException:
            check("fleet: the progress updated in place to 2 of 2 (polling)", False,
                  a.find_element(By.ID, "fleet-progress").text)
        shot(a, "fleet-progress-done")
        check("no Content-Security-Policy violation in either browser",
              not csp_violations(a) and not csp_violations(b))
        auditor()
    finally:
        for d in (a, b):
            if d is not None:
                try:
                    d.quit()
                except WebDriverException:
                    pass


def auditor():
    """The read-only pages of an auditor: certificates (search, details), the admin log."""
    c = browser(os.environ["HOME_AUD"], "aud")
    try:
        if not login(c, "aud", os.environ["PW_AUD"]):
            return
        c.find_element(By.ID, "nav-certificates").click()
        wait(c, EC.visibility_of_element_located((By.ID, "cert-search")))
        check_labels(c, "certificates")
        c.find_element(By.ID, "cert-text").send_keys("GW-A1" + Keys.ENTER)
        def found(d):
            # The result page, once re-rendered: every row is one of GW-A1's certificates.
            if "q=GW-A1" not in d.current_url:
                return False
            rows = d.find_elements(By.CSS_SELECTOR, "#view tbody tr")
            if not rows or not all("GW-A1" in r.text for r in rows):
                return False
            return rows[0].find_element(By.TAG_NAME, "a").text
        try:
            serial = wait(c, found, 15)
            ok("certificates: a search for GW-A1 lists only GW-A1's certificates")
        except TimeoutException:
            check("certificates: a search for GW-A1 lists only GW-A1's certificates", False,
                  c.find_element(By.ID, "view").text[:300])
            return
        wait(c, EC.element_to_be_clickable((By.LINK_TEXT, serial))).click()
        wait(c, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#view h1"), "Certificate " + serial))
        view = c.find_element(By.ID, "view").text
        check("certificate details: owner GW-A1, status, validity", "GW-A1" in view and "status" in view
              and "not_after" in view, view[:300])
        shot(c, "certificate")
        c.find_element(By.ID, "nav-log").click()
        wait(c, EC.visibility_of_element_located((By.ID, "verify-log")))
        view = c.find_element(By.ID, "view").text
        check("admin log: entries with actors and actions", "operator.add" in view or "gwa" in view, view[:300])
        check("admin log: the worker's verification position is shown",
              len(c.find_element(By.ID, "verify-position").text) > 10)
        c.find_element(By.ID, "verify-log").click()
        wait(c, lambda d: d.find_element(By.ID, "verify-result").text.startswith(("verified", "VERIFICATION")), 60)
        result = c.find_element(By.ID, "verify-result").text
        check("admin log: 'verify now' runs audit verify as the auditor and says verified",
              result.startswith("verified"), result[:300])
        shot(c, "admin-log")
        check("no Content-Security-Policy violation on the auditor's pages", not csp_violations(c))
    finally:
        try:
            c.quit()
        except WebDriverException:
            pass


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash of the test is a failure, with its reason
        bad("the browser test ran to its end", repr(e))
    print(f"{passed} passed, {failed} failed (browser)")
    sys.exit(0 if failed == 0 and passed > 0 else 1)
