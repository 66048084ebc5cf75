"""Security browser test of the webmail.

- A hostile HTML message (scripts, on*= handlers, javascript: links, forms,
  CSS url(), remote images, meta refresh, iframes, SVG) opened in the
  browser runs no script (window.__pwned stays unset, in the page and in
  every frame) and makes no request outside the webmail's origin: every
  request of the browser context is recorded, and a server of our own at
  another origin counts the hits it gets.
- Remote images load only after the user asks ("Show images").
- A POST without the CSRF token, or with a wrong one, is refused (403).
- Another user's message cannot be read by changing the id in the URL.
- A wrong password is refused.
"""

import base64
import http.server
import secrets
import threading
from email.message import EmailMessage
from urllib.parse import urlsplit

from wm import (ALICE, ALICE_PW, BOB, BOB_PW, DOMAIN, URL, check, log, login,
                new_page, run, send)


# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


class Evil(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        Evil.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    do_POST = do_GET

    def log_message(self, *a):
        pass


def hostile(evil, tag):
    e = f"http://{evil}"
    return f"""<html><head>
<meta http-equiv="refresh" content="0;url={e}/refresh">
<link rel="stylesheet" href="{e}/link.css">
<style>body {{ background: url({e}/style-bg.png) }} @import url({e}/import.css);</style>
<script>window.__pwned = 'script'; top.__pwned = 'script'; fetch('{e}/fetch');</script>
<base href="{e}/base/">
</head><body onload="window.__pwned='onload'">
<p>Hostile message {tag}</p>
<img src="cid:logo-{tag}@example.org" alt="cid-logo" width="4" height="4">
<img src="x" onerror="window.__pwned='onerror'; top.__pwned='onerror'">
<img src="{e}/remote.png" alt="remote">
<img srcset="{e}/srcset.png 2x">
<div style="background-image: url('{e}/inline-style.png'); width: 10px; height: 10px">x</div>
<a id="js" href="javascript:window.__pwned='link';top.__pwned='link'">click me</a>
<a href="JaVaScRiPt:top.__pwned='link2'">click me too</a>
<form action="{e}/form" method="post"><input name="secret" value="1"><button>Go</button></form>
<iframe src="{e}/iframe"></iframe>
<object data="{e}/object"></object><embed src="{e}/embed">
<svg onload="top.__pwned='svg'"><image href="{e}/svg-image.png"/></svg>
<video poster="{e}/poster.png"></video>
<audio src="{e}/audio.mp3" autoplay></audio>
<table background="{e}/table-bg.png"><tr><td>t</td></tr></table>
</body></html>"""


def outside(urls):
    """The recorded URLs not of the webmail's origin (data: and about: are
    local)."""
    own = urlsplit(URL)
    bad = []
    for u in urls:
        s = urlsplit(u)
        if s.scheme in ("data", "about", "blob"):
            continue
        if (s.scheme, s.netloc) != (own.scheme, own.netloc):
            bad.append(u)
    return bad


def pwned(page):
    return [f.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
            for f in page.frames]


def test(browser):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    evil = f"127.0.0.1:{srv.server_address[1]}"
    tag = secrets.token_hex(4)
    subject = f"Hostile {tag}"
    m = EmailMessage()
    m["From"] = f"Mallory <mallory@example.org>"
    m["To"] = f"{ALICE}@{DOMAIN}"
    m["Subject"] = subject
    m.set_content(f"Plain part {tag}")
    m.add_alternative(hostile(evil, tag), subtype="html")
    # A cid: image in a multipart/related around the HTML part.
    m.get_payload()[1].add_related(PNG, "image", "png", cid=f"<logo-{tag}@example.org>")
    send(m, [f"{ALICE}@{DOMAIN}"])

    # The wrong password first: refused, no session.
    page = new_page(browser)
    login(page, ALICE, ALICE_PW + "-wrong")
    page.wait_for_load_state()
    check("/login" in page.url and page.locator(".error").count() == 1, "a wrong password is refused")
    check(not any(c["name"] == "wm_session" for c in page.context.cookies()), "no session after a wrong password")
    r = page.request.get(URL + "/mail", max_redirects=0)
    check(r.status == 303 and "/login" in r.headers.get("location", ""), "no access without a session")
    page.context.close()

    requests = []
    page = new_page(browser, record=requests)
    login(page, ALICE, ALICE_PW)
    page.wait_for_url(URL + "/mail")
    cookie = [c for c in page.context.cookies() if c["name"] == "wm_session"][0]
    check(cookie["httpOnly"] and cookie["sameSite"] == "Strict", "session cookie HttpOnly, SameSite=Strict")
    resp = page.request.get(URL + "/mail")
    csp = resp.headers.get("content-security-policy", "")
    check("default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp,
          "a strict Content-Security-Policy on the pages")
    check(resp.headers.get("x-content-type-options") == "nosniff", "X-Content-Type-Options: nosniff")

    row = page.locator("#list tr", has_text=subject)
    row.wait_for()
    href = row.locator("a").get_attribute("href")
    row.locator("a").click()
    page.wait_for_url("**/msg?*")
    frame_el = page.locator("iframe.body")
    check(frame_el.count() == 1, "the HTML part is shown in a frame")
    sandbox = frame_el.get_attribute("sandbox") or ""
    check("allow-scripts" not in sandbox and frame_el.get_attribute("sandbox") is not None,
          "the frame is sandboxed without allow-scripts")
    body_frame = page.frame_locator("iframe.body")
    body_frame.locator("text=Hostile message").wait_for()
    # Try the links and the form, as a curious user would.
    for sel in ["a", "button", "form input"]:
        loc = body_frame.locator(sel)
        for i in range(loc.count()):
            try:
                loc.nth(i).click(timeout=1000, no_wait_after=True)
            except Exception as e:  # gone, hidden or not clickable: fine
                log("  (not clickable:", sel, i, type(e).__name__, ")")
    page.wait_for_timeout(1500)
    if "/msg?" not in page.url:
        page.go_back()
    check(all(p is None for p in pwned(page)), f"no script ran ({pwned(page)})")
    bad = outside(requests)
    check(not bad, f"no request outside the origin ({bad})")
    check(not Evil.hits, f"the other origin got no request ({Evil.hits})")
    check(page.locator("#show-images").count() == 1, "remote images blocked, with a button to show them")
    logo = body_frame.locator("img[alt=cid-logo]")
    check(logo.count() == 1 and logo.evaluate("i => i.complete && i.naturalWidth") == 1,
          "the cid: image is shown from the message's own part")
    check(any("/part?" in u for u in requests), "served by the webmail (/part)")
    body = page.request.get(URL + "/body" + href[len("/msg"):])
    bcsp = body.headers.get("content-security-policy", "")
    check("default-src 'none'" in bcsp and "script-src" not in bcsp, f"the body's own CSP ({bcsp})")
    text = body.text().lower()
    for word in ["<script", "onerror", "onload", "javascript:", "<form", "<iframe", "<object", "<embed",
                 "http-equiv", evil]:
        check(word not in text, f"the sanitized body has no {word!r}")

    # Remote images on demand.
    page.click("#show-images")
    page.wait_for_url("**images=1*")
    page.frame_locator("iframe.body").locator("text=Hostile message").wait_for()
    page.wait_for_timeout(1000)
    check("/remote.png" in Evil.hits, f"remote images load once asked ({Evil.hits})")
    check(all(p is None for p in pwned(page)), "still no script with images shown")

    # CSRF: POSTs without the token, or with a wrong one, are refused.
    uid = href.split("uid=")[1]
    for form in [{"f": "INBOX", "uid": uid, "op": "delete"},
                 {"f": "INBOX", "uid": uid, "op": "delete", "csrf": "0" * 64}]:
        r = page.request.post(URL + "/action", form=form, max_redirects=0)
        check(r.status == 403, f"POST /action {'with a wrong' if 'csrf' in form else 'without a'} token: 403")
    r = page.request.post(URL + "/send", multipart={"to": f"{BOB}@{DOMAIN}", "subject": "x", "body": "x",
                                                    "action": "send"}, max_redirects=0)
    check(r.status == 403, "POST /send without a token: 403")
    r = page.request.post(URL + "/logout", form={}, max_redirects=0)
    check(r.status == 403, "POST /logout without a token: 403")
    r = page.request.post(URL + "/bulk", form={"f": "INBOX", "u": uid, "op": "delete"}, max_redirects=0)
    check(r.status == 403, "POST /bulk without a token: 403")
    r = page.request.post(URL + "/folders", form={"op": "create", "name": "Evil"}, max_redirects=0)
    check(r.status == 403, "POST /folders without a token: 403")
    r = page.request.post(URL + "/contacts", form={"op": "add", "name": "Evil", "addr": "evil@example.org"},
                          max_redirects=0)
    check(r.status == 403, "POST /contacts without a token: 403")
    r = page.request.post(URL + "/vacation", form={"on": "1", "text": "Gone phishing"}, max_redirects=0)
    check(r.status == 403, "POST /vacation without a token: 403")
    r = page.request.post(URL + "/password", form={"current": "x", "new": "evil-pass-1", "repeat": "evil-pass-1"},
                          max_redirects=0)
    check(r.status == 403, "POST /password without a token: 403")
    def hostile_name(path, fields, table, what):
        """Types a name with markup into the form of `path`; it shows as text."""
        page.goto(URL + path)
        for sel, value in fields.items():
            page.fill(sel, value)
        page.click("form.create button")
        page.wait_for_url("**" + path)
        check(page.locator(table + " td", has_text="<img src=x").count() == 1, f"a hostile {what} name as text")
        check(all(p is None for p in pwned(page)), f"no script from a {what} name on its page")

    evil = "<img src=x onerror=window.__pwned=1>"
    # A contact's name is shown escaped (contacts page, compose suggestions).
    hostile_name("/contacts", {"#contact-name": evil, "#contact-addr": "evil@example.org"},
                 "table.contacts", "contact")
    page.goto(URL + "/compose")
    check(all(p is None for p in pwned(page)), "no script from a contact name in the suggestions")
    # A vacation subject and text with markup are shown as text.
    page.goto(URL + "/vacation")
    page.check("#vacation-on")
    page.fill("#vacation-subject", evil)
    page.fill("#vacation-text", "</textarea>" + evil)
    page.click("#vacation form button[type=submit]")
    page.wait_for_url("**/vacation")
    check(page.input_value("#vacation-subject") == evil
          and page.input_value("#vacation-text") == "</textarea>" + evil
          and all(p is None for p in pwned(page)), "a hostile vacation reply shown as text")
    page.uncheck("#vacation-on")
    page.click("#vacation form button[type=submit]")
    page.wait_for_url("**/vacation")
    # A folder name is shown escaped (folder list, folder page, move targets).
    hostile_name("/folders", {"#new": evil}, "table.folders", "folder")
    page.goto(URL + "/mail")
    check(all(p is None for p in pwned(page)), "no script from a folder name in the list's menus")
    page.goto(URL + "/folders")
    page.locator("table.folders tr", has_text="<img src=x").locator("button", has_text="Delete").click()
    page.wait_for_url("**/folders")
    page.goto(URL + "/mail")
    check(page.locator("#list tr", has_text=subject).count() == 1, "the message is still there")
    # And a form posted from another origin gets no session cookie at all.
    r = page.request.post(URL + "/login", form={"user": ALICE, "password": ALICE_PW}, max_redirects=0)
    check(r.status == 403, "POST /login without its token: 403")

    # Another user cannot read Alice's message by its id (which is Alice's).
    r = page.request.get(URL + href)
    check(r.status == 200 and tag in r.text(), f"Alice reads her message at {href}")
    bob = new_page(browser)
    login(bob, BOB, BOB_PW)
    bob.wait_for_url(URL + "/mail")
    for path in [href, "/body" + href[len("/msg"):], "/part" + href[len("/msg"):] + "&part=1",
                 href.replace("f=INBOX", f"f=..{ALICE}"), href.replace("f=INBOX", f"f=../{ALICE}"),
                 href.replace("f=INBOX", f"f=%2F..%2F{ALICE}")]:
        r = bob.request.get(URL + path, max_redirects=0)
        check(r.status == 404 and tag not in r.text(), f"Bob cannot read Alice's message: {path} -> {r.status}")
    log("security: all done")


run(test)
