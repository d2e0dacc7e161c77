"""test_mail.py - e-mail through a real SMTP server (Debian's python3-aiosmtpd) and the .eml
fallback, on SQLite and PostgreSQL.

Mail is queued by the test job kind test.mail (mail_enqueue in a transaction of its own); the
"mail.send" job renders and sends it. A server that answers 451 to the first DATA proves that
the job retries and that the message arrives exactly once, with the HTML part escaped.
"""

import email
import email.policy
import glob
import os
import threading
import time

import pytest

from jobs_support import admin_token, enqueue, job_server, wait_for, wait_state
from souk_client import free_port

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    """An aiosmtpd handler that keeps messages; refuses the first `refuse` DATA commands."""

    def __init__(self, refuse=0):
        self.refuse = refuse
        self.messages = []
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.refuse:
                return "451 Requested action aborted: try again later"
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  email.message_from_bytes(envelope.content,
                                                           policy=email.policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    started = []

    def start(refuse=0):
        inbox = Inbox(refuse)
        port = free_port()
        ctl = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
        ctl.start()
        started.append(ctl)
        return inbox, f"smtp://127.0.0.1:{port}"

    yield start
    for ctl in started:
        ctl.stop()


def send(server, admin, **payload):
    j = enqueue(server, admin, "test.mail", payload)
    wait_state(server, admin, j["id"], "done")


def mail_jobs(server, admin):
    r = server.get("/api/admin/jobs/?state=done&kind=mail.send", token=admin)
    return r.json()["results"]


def test_smtp_delivers_rendered_message(souk_factory, smtp):
    inbox, url = smtp()
    server = job_server(souk_factory, SOUK_SMTP_URL=url, SOUK_MAIL_FROM="shop@example.com")
    admin = admin_token(server)
    send(server, admin, to="buyer@example.com", template="test",
         vars={"subject": "Hello <you>", "body": "Tom & <b>Jerry</b>"}, key="m-1")
    wait_for(lambda: inbox.messages, what="the message")
    mail_from, rcpts, msg = inbox.messages[0]
    assert mail_from == "shop@example.com" and rcpts == ["buyer@example.com"]
    assert msg["Subject"] == "Hello <you>"
    assert msg["Message-ID"].endswith("@souk>")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Tom & <b>Jerry</b>" in text
    assert "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;" in html


def test_refused_then_accepted_arrives_once(souk_factory, smtp):
    inbox, url = smtp(refuse=1)
    server = job_server(souk_factory, SOUK_SMTP_URL=url)
    admin = admin_token(server)
    send(server, admin, to="a@example.com", template="test",
         vars={"subject": "retry", "body": "x"}, key="m-retry")
    job = wait_for(lambda: mail_jobs(server, admin), timeout=30, what="mail.send done")[0]
    assert job["attempt"] == 2
    assert "451" in job["last_error"]  # the refusal of the first attempt is kept
    time.sleep(1)
    assert inbox.attempts == 2
    assert len(inbox.messages) == 1
    # queueing the same key again sends nothing (the sent-marker)
    send(server, admin, to="a@example.com", template="test",
         vars={"subject": "retry", "body": "x"}, key="m-retry")
    wait_for(lambda: len(mail_jobs(server, admin)) == 2, what="second mail.send done")
    time.sleep(0.5)
    assert len(inbox.messages) == 1


def test_without_smtp_writes_eml(souk_factory):
    server = job_server(souk_factory)
    admin = admin_token(server)
    send(server, admin, to="c@example.com", template="welcome",
         vars={"first_name": "Ana", "email": "c@example.com"}, key="welcome:c")
    wait_for(lambda: mail_jobs(server, admin), what="mail.send done")
    files = glob.glob(os.path.join(server.data_dir, "mail", "*.eml"))
    assert [os.path.basename(f) for f in files] == ["welcome_c.eml"]
    with open(files[0], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    assert msg["Subject"] == "Welcome to souk, Ana"
    assert "Ana" in msg.get_body(("plain",)).get_content()
