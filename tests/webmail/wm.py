"""Shared helpers of the webmail browser tests (run by tests/interop_webmail.rs).

The Rust test starts the mailserver with two accounts and passes, in the
environment: WEBMAIL_URL, SMTP_HOST/SMTP_PORT (the MTA port), IMAP_HOST/
IMAP_PORT, SUBMISSION_HOST/SUBMISSION_PORT, POP3_HOST/POP3_PORT, the accounts (ALICE/ALICE_PW,
BOB/BOB_PW), the mail domain (DOMAIN) and SCREENSHOTS (a directory). Chromium is Debian's, driven by
Playwright for Python.
"""

import imaplib
import os
import smtplib
import sys
import time

from playwright.sync_api import sync_playwright

URL = os.environ["WEBMAIL_URL"].rstrip("/")
SMTP = (os.environ["SMTP_HOST"], int(os.environ["SMTP_PORT"]))
IMAP = (os.environ["IMAP_HOST"], int(os.environ["IMAP_PORT"]))
SUBMISSION = (os.environ["SUBMISSION_HOST"], int(os.environ["SUBMISSION_PORT"]))
POP3 = (os.environ["POP3_HOST"], int(os.environ["POP3_PORT"]))
ALICE, ALICE_PW = os.environ["ALICE"], os.environ["ALICE_PW"]
BOB, BOB_PW = os.environ["BOB"], os.environ["BOB_PW"]
DOMAIN = os.environ["DOMAIN"]
SHOTS = os.environ["SCREENSHOTS"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Small timeouts: the whole CI must stay short.
TIMEOUT_MS = 10_000


def log(*a):
    print(*a, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log("ok:", what)


def launch(p):
    return p.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
    )


def new_page(browser, record=None, **kw):
    """A page in a fresh context; every request it (and its frames) makes
    is appended to `record` when given."""
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 800}, **kw)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    if record is not None:
        ctx.on("request", lambda r: record.append(r.url))
    return page


def login(page, user, password):
    page.goto(URL + "/login")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def send(msg, to):
    """Sends an email.message.EmailMessage over SMTP (CRLF line ends)."""
    with smtplib.SMTP(*SMTP, timeout=10) as s:
        s.send_message(msg, "sender@example.org", to)


def imap(user, password):
    c = imaplib.IMAP4(*IMAP, timeout=10)
    c.login(user, password)
    return c


def imap_find(user, password, folder, subject, timeout=10.0):
    """The raw messages of `folder` whose Subject contains `subject`,
    waiting up to `timeout` seconds for at least one."""
    deadline = time.time() + timeout
    while True:
        c = imap(user, password)
        try:
            c.select(folder, readonly=True)
            typ, data = c.uid("SEARCH", "SUBJECT", '"%s"' % subject.replace("\\", "").replace('"', ""))
            uids = data[0].split() if typ == "OK" and data and data[0] else []
            out = []
            for u in uids:
                typ, d = c.uid("FETCH", u, "(BODY.PEEK[])")
                out.extend(x[1] for x in d if isinstance(x, tuple))
        finally:
            c.logout()
        if out or time.time() > deadline:
            return out
        time.sleep(0.3)


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name)
    page.screenshot(path=path, full_page=True)
    log("screenshot", path)


def main(body):
    with sync_playwright() as p:
        browser = launch(p)
        try:
            body(browser)
        finally:
            browser.close()
    log("PASS")


def run(body):
    try:
        main(body)
    except Exception as e:  # the Rust side shows this output
        log("FAIL:", type(e).__name__, e)
        sys.exit(1)
