"""Functional browser test of the webmail: log in; a message sent with
smtplib appears without a reload; open it; download its attachment and
compare the bytes; search, sort and flag; reply; the reply arrives at the
other account (over IMAP); forward with an uploaded file; save a draft;
move to a folder and delete; the server's SPF result in the message
view. Screenshots of the login, list, message and compose views;
several messages ticked in the list and marked read,
moved, deleted; a folder made, renamed and deleted on the folder page;
the address book: recipients collected, a sender added from a message,
a contact added, written to, suggested when composing, and deleted."""

import email
import imaplib
import email.policy
import poplib
import secrets
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from wm import (ALICE, ALICE_PW, BOB, BOB_PW, DOMAIN, POP3, SMTP, SUBMISSION, URL, check, imap, imap_find,
                log, login, new_page, run, send, shot)


def plain(sender, subject, text, when):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = f"Alice <{ALICE}@{DOMAIN}>"
    m["Subject"] = subject
    m["Date"] = formatdate(when, localtime=False)
    m.set_content(text)
    return m


def test(browser):
    # Some mail already there.
    now = time.time()
    send(plain("Carol Jones <carol@example.org>", "Lunch on Friday?", "Are you free?", now - 7200),
         [f"{ALICE}@{DOMAIN}"])
    send(plain("Release bot <builds@example.net>", "Build 1.4.2 passed", "All green.", now - 3600),
         [f"{ALICE}@{DOMAIN}"])
    page = new_page(browser)
    page.goto(URL + "/login")
    shot(page, "login.png")
    login(page, ALICE, ALICE_PW)
    page.wait_for_url(URL + "/mail")
    check(page.locator("#list").count() == 1, "logged in: the message list is shown")
    # Read one: it is no longer bold.
    page.locator("#list tr", has_text="Lunch on Friday?").locator("a").click()
    page.wait_for_url("**/msg?*")
    checks = page.locator("dd.checks")
    check(checks.count() == 1 and "SPF pass" in checks.inner_text()
          and "DMARC pass (example.org)" in checks.inner_text()
          and checks.locator(".check-pass").count() == 2, "the server's SPF and DMARC results are shown")
    page.goto(URL + "/mail")
    check("unread" not in (page.locator("#list tr", has_text="Lunch on Friday?").get_attribute("class") or ""),
          "a message read is no longer shown unread")

    # A message from Bob with an attachment, sent while the list is open.
    tag = secrets.token_hex(4)
    subject = f"Quarterly numbers {tag}"
    attachment = bytes(range(256)) * 40 + secrets.token_bytes(517)
    msgid = make_msgid(domain=DOMAIN)
    m = EmailMessage()
    m["From"] = f"Bob <{BOB}@{DOMAIN}>"
    m["To"] = f"Alice <{ALICE}@{DOMAIN}>"
    m["Subject"] = subject
    m["Message-ID"] = msgid
    m["Date"] = formatdate(localtime=False)
    m.set_content(f"Hello Alice,\n\nthe numbers are attached ({tag}).\n\nBob\n")
    m.add_attachment(attachment, maintype="application", subtype="octet-stream",
                     filename="numbers.bin")
    page.evaluate("window.__noReload = 1")
    send(m, [f"{ALICE}@{DOMAIN}"])
    row = page.locator("#list tr", has_text=subject)
    row.wait_for()
    check(page.evaluate("window.__noReload") == 1, "the new message appeared without a reload")
    check("unread" in (row.get_attribute("class") or ""), "the new message is shown unread (bold)")
    shot(page, "list.png")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "list-phone.png")
    page.set_viewport_size({"width": 1200, "height": 800})

    # Open it.
    row.locator("a").click()
    page.wait_for_url("**/msg?*")
    check(page.locator("#subject").inner_text() == subject, "the message view shows the subject")
    check(tag in page.locator("#body").inner_text(), "the message view shows the text")
    shot(page, "message.png")
    page.click("#show-headers")
    check(msgid in page.locator("pre.raw-headers").inner_text(), "headers on demand")
    page.go_back()

    # Download the attachment; the bytes must be the same.
    with page.expect_download() as dl:
        page.click("ul.attachments a")
    d = dl.value
    check(d.suggested_filename == "numbers.bin", f"attachment file name ({d.suggested_filename})")
    with open(d.path(), "rb") as f:
        check(f.read() == attachment, "the downloaded attachment has the sent bytes")

    # Search (full text, sender, subject) and sort.
    page.goto(URL + "/mail?f=INBOX")
    for field, text, n in [("text", tag, 1), ("from", "Bob", 1), ("subject", "no-such-" + tag, 0)]:
        page.fill("#q", text)
        page.select_option("#in", field)
        page.click("form.search button")
        page.wait_for_url("**q=*")
        check(page.locator("#list tbody tr").count() == n, f"search {field} {text!r}: {n} found")
    page.goto(URL + "/mail?f=INBOX")
    page.click("#list th >> text=Subject")
    page.wait_for_url("**sort=subject*")
    check(page.locator("#list tr", has_text=subject).count() == 1, "sorted by subject")

    # Flag it, from its page.
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.click("#flag")
    page.wait_for_url("**/msg?*")
    check(page.locator("#flag").inner_text() == "Unflag", "flagged")
    page.goto(URL + "/mail?f=INBOX")
    row = page.locator("#list tr", has_text=subject)
    cls = row.get_attribute("class") or ""
    check("flagged" in cls and "unread" not in cls, "the list shows it flagged and read")
    row.locator("a").click()
    page.click("#unread")
    page.wait_for_url("**/mail?*")
    check("unread" in (page.locator("#list tr", has_text=subject).get_attribute("class") or ""),
          "marked unread")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.click("#reply-all")
    page.wait_for_url("**/compose?*")
    check(f"{BOB}@{DOMAIN}" in page.input_value("#to") and f"{ALICE}@" not in page.input_value("#cc"),
          "reply-all: to the sender, not to myself")
    page.go_back()

    # Reply.
    page.click("#reply")
    page.wait_for_url("**/compose?*")
    check(f"{BOB}@{DOMAIN}" in page.input_value("#to"), "the reply goes to the sender")
    check(page.input_value("#subject") == "Re: " + subject, "the reply's subject")
    page.fill("#body", f"Thanks Bob, got them ({tag}).\n\n" + page.input_value("#body"))
    shot(page, "compose.png")
    page.click("button[name=action][value=send]")
    page.wait_for_url("**/mail?*")

    got = imap_find(BOB, BOB_PW, "INBOX", "Re: " + subject)
    check(len(got) == 1, "the reply arrived at Bob's INBOX (IMAP)")
    raw = got[0].decode("utf-8", "replace")
    check(f"Thanks Bob, got them ({tag})" in raw, "the reply carries the typed text")
    check(msgid in raw, "the reply refers to the original (In-Reply-To/References)")
    check(len(imap_find(ALICE, ALICE_PW, "Sent", "Re: " + subject)) == 1, "a copy is in Alice's Sent")

    # The original's page now lists the reply (its copy in Sent) as the
    # rest of the conversation (the same RFC 8474 THREADID), linked.
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.wait_for_url("**/msg?*")
    conv = page.locator("#conversation li")
    check(conv.count() == 1 and "Re: " + subject in conv.inner_text() and "in Sent" in conv.inner_text(),
          "the message's conversation lists the reply in Sent")
    conv.locator("a").click()
    page.wait_for_url("**/msg?f=Sent*")
    check(page.inner_text("#subject") == "Re: " + subject, "the conversation's link opens the reply")

    # Forward, with a file uploaded.
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.click("#forward")
    page.wait_for_url("**/compose?*")
    check(page.input_value("#subject") == "Fwd: " + subject, "the forward's subject")
    page.fill("#to", f"{BOB}@{DOMAIN}")
    upload = secrets.token_bytes(1500)
    page.set_input_files("#attachments", files=[{"name": "extra.bin", "mimeType": "application/octet-stream",
                                                  "buffer": upload}])
    page.click("button[name=action][value=send]")
    page.wait_for_url("**/mail?*")
    got = imap_find(BOB, BOB_PW, "INBOX", "Fwd: " + subject)
    check(len(got) == 1, "the forward arrived at Bob's INBOX")
    fwd = email.message_from_bytes(got[0], policy=email.policy.default)
    parts = {p.get_filename(): p for p in fwd.iter_attachments()}
    check(parts.get("extra.bin") is not None and parts["extra.bin"].get_content() == upload,
          "the uploaded file arrived with its bytes")
    inner = [p for p in fwd.iter_attachments() if p.get_content_type() == "message/rfc822"]
    check(len(inner) == 1 and tag in inner[0].as_string(), "the original is attached as message/rfc822")

    # A draft.
    page.goto(URL + "/compose")
    page.fill("#to", f"{BOB}@{DOMAIN}")
    page.fill("#subject", f"Draft {tag}")
    page.fill("#body", "Not finished yet.")
    plan = b"step 1\nstep 2\n" + tag.encode()
    page.set_input_files("#attachments", files=[{"name": "plan.txt", "mimeType": "text/plain", "buffer": plan}])
    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/mail?f=Drafts")
    check(page.locator("#list tr", has_text=f"Draft {tag}").count() == 1, "the draft is in Drafts")
    check(len(imap_find(BOB, BOB_PW, "INBOX", f"Draft {tag}", timeout=0)) == 0, "a draft is not sent")
    # Open it again, finish it, send it: its file goes along, and it leaves Drafts.
    page.locator("#list tr", has_text=f"Draft {tag}").locator("a").click()
    page.click("#edit")
    page.wait_for_url("**/compose?*")
    check(page.input_value("#subject") == f"Draft {tag}" and "plan.txt" in page.inner_text("form.compose"),
          "the draft opens again with its file")
    page.fill("#subject", f"Finished {tag}")
    page.click("button[name=action][value=send]")
    page.wait_for_url("**/mail?f=Sent")
    got = imap_find(BOB, BOB_PW, "INBOX", f"Finished {tag}")
    check(len(got) == 1, "the finished draft arrived at Bob's")
    sent = email.message_from_bytes(got[0], policy=email.policy.default)
    files = {p.get_filename(): p.get_content() for p in sent.iter_attachments()}
    check(files.get("plan.txt", "").encode() == plan, "with the draft's file")
    page.goto(URL + "/mail?f=Drafts")
    check(page.locator("#list tr", has_text=tag).count() == 0, "the draft left Drafts once sent")

    # Move to Archive, then delete (to Trash), then delete for good.
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.select_option("#move-to", "Archive")
    page.click("#move")
    page.goto(URL + "/mail?f=Archive")
    arch = page.locator("#list tr", has_text=subject)
    check(arch.count() == 1, "moved to Archive")
    check(page.goto(URL + "/mail?f=INBOX") and page.locator("#list tr", has_text=subject).count() == 0,
          "gone from INBOX")
    page.goto(URL + "/mail?f=Archive")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.click("#delete")
    page.goto(URL + "/mail?f=Trash")
    check(page.locator("#list tr", has_text=subject).count() == 1, "deleted: in Trash")
    page.locator("#list tr", has_text=subject).locator("a").click()
    page.click("#delete")
    page.goto(URL + "/mail?f=Trash")
    check(page.locator("#list tr", has_text=subject).count() == 0, "deleted from Trash: gone")
    check(len(imap_find(ALICE, ALICE_PW, "Trash", subject, timeout=0)) == 0, "gone over IMAP too")
    # Several messages at once: two ticked in the list and marked read,
    # then moved to a folder made on the folder page, which is renamed,
    # emptied with "select all" and deleted.
    for i in range(2):
        send(plain("Carol Jones <carol@example.org>", f"Bulk {i} {tag}", "Bulk.", time.time()),
             [f"{ALICE}@{DOMAIN}"])
    bulk_rows = [f"Bulk {i} {tag}" for i in range(2)]
    page.goto(URL + "/mail?f=INBOX")
    for text in bulk_rows:
        page.locator("#list tr", has_text=text).wait_for()
    for text in bulk_rows:
        page.locator("#list tr", has_text=text).locator("input[name=u]").check()
    page.select_option("#op", "read")
    page.click("#bulk .bulk button[type=submit]")
    page.wait_for_url("**/mail?f=INBOX")
    for text in bulk_rows:
        check("unread" not in (page.locator("#list tr", has_text=text).get_attribute("class") or ""),
              f"ticked and marked read: {text}")

    page.click("text=Manage folders")
    page.wait_for_url("**/folders")
    storage = page.inner_text("#storage")
    check(storage.startswith("Storage used: ") and storage.rstrip().endswith("of 1.0 GiB (0%)")
          and page.locator("#storage meter").count() == 1, "the storage used, of the quota, is shown")
    made = f"Bulk é {tag}"
    page.fill("#new", made)
    page.click("form.create button")
    page.wait_for_url("**/folders")
    check(page.locator("table.folders tr", has_text=made).count() == 1, "a folder made on the folder page")
    check(page.locator("table.folders tr", has_text="Trash").locator("button").count() == 0,
          "the special folders cannot be renamed or deleted")
    shot(page, "folders.png")

    page.goto(URL + "/mail?f=INBOX")
    for text in bulk_rows:
        page.locator("#list tr", has_text=text).locator("input[name=u]").check()
    page.select_option("#op", "move")
    page.select_option("#to", label=made)
    page.click("#bulk .bulk button[type=submit]")
    page.wait_for_url("**/mail?f=INBOX")
    check(page.locator("#list tr", has_text=f"Bulk 0 {tag}").count() == 0
          and page.locator("#list tr", has_text=f"Bulk 1 {tag}").count() == 0, "both moved out of INBOX")

    page.goto(URL + "/folders")
    row = page.locator("table.folders tr", has_text=made)
    check(row.locator("td", has_text="2").count() >= 1, "the new folder holds both")
    check(row.locator("button", has_text="Delete").is_disabled(), "a folder with messages cannot be deleted")
    kept = f"Kept-{tag}"
    row.locator("input[name=to]").fill(kept)
    row.locator("button", has_text="Rename").click()
    page.wait_for_url("**/folders")
    check(page.locator("table.folders tr", has_text=made).count() == 0
          and page.locator("table.folders tr", has_text=kept).count() == 1, "renamed")
    check(len(imap_find(ALICE, ALICE_PW, kept, f"Bulk 1 {tag}")) == 1, "the renamed folder over IMAP")

    page.locator("table.folders tr", has_text=kept).locator("a").click()
    page.wait_for_url("**/mail?f=*")
    page.check("#pick-all")
    check(page.locator("#list input[name=u]:checked").count() == 2, "select all ticks the page's messages")
    page.select_option("#op", "delete")
    page.click("#bulk .bulk button[type=submit]")
    page.wait_for_url("**/mail?f=*")
    check(page.locator("#list tbody tr").count() == 0, "the folder emptied (to Trash)")
    page.goto(URL + "/mail?f=Trash")
    check(page.locator("#list tr", has_text=f"Bulk 0 {tag}").count() == 1, "the deleted ones are in Trash")
    page.goto(URL + "/folders")
    page.locator("table.folders tr", has_text=kept).locator("button", has_text="Delete").click()
    page.wait_for_url("**/folders")
    check(page.locator("table.folders tr", has_text=kept).count() == 0, "the empty folder deleted")

    # The address book: Bob is there since Alice wrote to him, Carol is
    # added from her message's view; a contact added by hand is offered
    # when writing, and deleted again.
    page.click("#contacts-link")
    page.wait_for_url("**/contacts")
    check(page.locator("table.contacts tr", has_text=f"{BOB}@{DOMAIN}").count() == 1,
          "the people written to are in the contacts")
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text="Lunch on Friday?").locator("a").click()
    page.wait_for_url("**/msg?*")
    page.click("#add-contact")
    page.wait_for_url("**/contacts")
    check(page.locator("table.contacts tr", has_text="Carol Jones").count() == 1,
          "the sender added from the message")
    page.fill("#contact-name", "Dana Scully")
    page.fill("#contact-addr", "dana@example.org")
    page.click("#address-book form.create button")
    page.wait_for_url("**/contacts")
    row = page.locator("table.contacts tr", has_text="dana@example.org")
    check(row.count() == 1 and "Dana Scully" in row.inner_text(), "a contact added by hand")
    shot(page, "contacts.png")
    row.locator("a", has_text="Write").click()
    page.wait_for_url("**/compose?*")
    check(page.input_value("#to") == "Dana Scully <dana@example.org>", "Write starts a message to the contact")
    options = page.eval_on_selector_all("datalist#contacts option", "els => els.map(e => e.value)")
    check("Dana Scully <dana@example.org>" in options and any(f"{BOB}@{DOMAIN}" in o for o in options),
          "the compose form suggests the contacts")
    page.goto(URL + "/contacts")
    page.locator("table.contacts tr", has_text="dana@example.org").locator("button", has_text="Delete").click()
    page.wait_for_url("**/contacts")
    check(page.locator("table.contacts tr", has_text="dana@example.org").count() == 0, "a contact deleted")

    # The vacation reply: set on its page, kept, sent to a sender (Bob,
    # over SMTP) by delivery, then turned off.
    page.click("#vacation-link")
    page.wait_for_url("**/vacation")
    check(not page.is_checked("#vacation-on"), "the vacation reply is off at first")
    page.check("#vacation-on")
    page.fill("#vacation-subject", f"Away {tag}")
    page.fill("#vacation-text", "Back on Monday.\nAlice")
    page.click("#vacation form button[type=submit]")
    page.wait_for_url("**/vacation")
    check(page.is_checked("#vacation-on") and page.input_value("#vacation-subject") == f"Away {tag}"
          and page.input_value("#vacation-text").startswith("Back on Monday."),
          "the vacation reply is saved and shown again")
    shot(page, "vacation.png")
    question = plain(f"Bob <{BOB}@{DOMAIN}>", f"Are you there {tag}?", "Hello?", time.time())
    with smtplib.SMTP(*SMTP, timeout=10) as s:
        s.send_message(question, f"{BOB}@{DOMAIN}", [f"{ALICE}@{DOMAIN}"])
    got = imap_find(BOB, BOB_PW, "INBOX", f"Away {tag}")
    check(len(got) == 1 and b"Back on Monday." in got[0] and b"Auto-Submitted: auto-replied" in got[0],
          "the vacation reply reaches the sender")
    page.uncheck("#vacation-on")
    page.click("#vacation form button[type=submit]")
    page.wait_for_url("**/vacation")
    check(not page.is_checked("#vacation-on"), "the vacation reply is turned off")

    # Junk and back: one click each way.
    page.goto(URL + "/mail?f=INBOX")
    page.locator("#list tr", has_text="Lunch on Friday?").locator("a").click()
    page.wait_for_url("**/msg?*")
    page.click("#junk")
    page.wait_for_url("**/mail?f=INBOX")
    check(page.locator("#list tr", has_text="Lunch on Friday?").count() == 0, "moved out of INBOX as junk")
    page.goto(URL + "/mail?f=Junk")
    page.locator("#list tr", has_text="Lunch on Friday?").locator("a").click()
    page.wait_for_url("**/msg?*")
    check(page.locator("#junk").count() == 0, "no Junk button in Junk")
    page.click("#not-junk")
    page.wait_for_url("**/mail?f=Junk")
    page.goto(URL + "/mail?f=INBOX")
    check(page.locator("#list tr", has_text="Lunch on Friday?").count() == 1, "back in INBOX as not junk")

    # The password: a wrong current one is refused; a change is in force
    # at once over IMAP, and this browser stays logged in; the IMAP, SMTP
    # and POP3 sessions that logged in with the old one end, the POP3 one
    # deleting nothing it had marked.
    held_imap = imap(ALICE, ALICE_PW)
    held_imap.select("INBOX")
    held_smtp = smtplib.SMTP(*SUBMISSION, timeout=10)
    held_smtp.login(ALICE, ALICE_PW)
    held_pop = poplib.POP3(*POP3, timeout=10)
    held_pop.user(ALICE)
    held_pop.pass_(ALICE_PW)
    pop_count = held_pop.stat()[0]
    check(pop_count >= 1, "the POP3 session sees the INBOX")
    held_pop.dele(1)
    page.click("#password-link")
    page.wait_for_url("**/password")
    page.fill("#current", "not it")
    page.fill("#new", "a new secret 1")
    page.fill("#repeat", "a new secret 1")
    page.click("#password form button[type=submit]")
    check("current password is wrong" in page.inner_text("#password-note"), "a wrong current password is refused")
    new_pw = f"new secret {tag}"
    page.fill("#current", ALICE_PW)
    page.fill("#new", new_pw)
    page.fill("#repeat", new_pw)
    page.click("#password form button[type=submit]")
    page.wait_for_url("**/password?done=1")
    check("was changed" in page.inner_text("#password-note"), "the password is changed")
    imap(ALICE, new_pw).logout()
    try:
        imap(ALICE, ALICE_PW)
        raise AssertionError("the old password still works over IMAP")
    except imaplib.IMAP4.error:
        log("ok: the old password no longer works over IMAP")
    try:
        typ, _ = held_imap.noop()
        imap_closed = typ != "OK"
    except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
        imap_closed = True
    check(imap_closed, "the IMAP session logged in with the old password is closed")
    try:
        code, _ = held_smtp.mail(f"{ALICE}@{DOMAIN}")
        smtp_closed = code == 421
    except (smtplib.SMTPServerDisconnected, OSError):
        smtp_closed = True
    check(smtp_closed, "the SMTP session logged in with the old password is closed (421)")
    try:
        held_pop.quit()
        pop_refused = False
    except poplib.error_proto as e:
        pop_refused = b"[AUTH]" in e.args[0]
    check(pop_refused, "the POP3 session logged in with the old password gets -ERR [AUTH] at QUIT")
    fresh_pop = poplib.POP3(*POP3, timeout=10)
    fresh_pop.user(ALICE)
    fresh_pop.pass_(new_pw)
    check(fresh_pop.stat()[0] == pop_count, "the message it marked was not deleted")
    fresh_pop.quit()
    page.goto(URL + "/mail")
    check(page.locator("#list").count() == 1, "still logged in after the change")
    log("functional: all done")


run(test)
