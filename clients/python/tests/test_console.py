"""The console (``/console/`` on ``server.http_listen``), in a real browser: Debian's chromium,
driven by Selenium through Debian's chromedriver. Log in, watch live numbers move under a load,
open a task and its logs, see every stored string rendered as text (never run as markup), and on
a phone-sized screen; plus what the browser does not show: cookie flags, the Content-Security-Policy,
CSRF refusals, wrong and non-admin tokens, the live view's bound.

``CONSOLE_SCREENSHOTS=DIR`` saves the screenshots there (``scripts/console-screenshots`` puts them
in ``docs/console``); otherwise into the test's temporary folder."""

import json
import os
import ssl
import threading
import time
import urllib.error
from datetime import datetime, timezone
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import Proxy
from storage_proxy import StorageClient

TOKEN = "console-admin-token-0123456789"
READER = "console-reader-token-0123456789"
# What a hostile client could store anywhere: each would run a script if it reached the page as markup.
XSS = ['<img src=x onerror="window.__xss=1">', '<script>window.__xss=2</script>', '"><svg onload="window.__xss=3">']


@pytest.fixture
def console(tmp_path):
    proxy = Proxy("personal", token=TOKEN, http=True)
    with open(proxy.config, "a") as f:
        f.write(f"  tokens:\n    - name: reader\n      token: \"{READER}\"\n      agents: [news]\n      access: read-only\n"
                "  slow_log_ms: 100\n")
    proxy.stop()
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def screenshot(driver, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(folder / f"{name}.png"))


def log_in(driver, proxy, token=TOKEN):
    """Logs in and waits until the page has settled: the console (a successful login navigates to it)
    or the login page's error. While the page navigates, a driver call can fail with "aborted by
    navigation": that is waited out, not a failure."""
    driver.get(proxy.http_url + "/console/")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()

    def settled(d):
        if d.find_elements(By.ID, "logout"):
            return True
        errors = d.find_elements(By.ID, "login-error")
        return bool(errors and errors[0].text)

    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(settled)


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def number(text: str) -> float:
    """A card's figure ("–" until the second update)."""
    try:
        return float(text)
    except ValueError:
        return 0.0


def test_live_numbers_move_under_load(console, browser, tmp_path):
    log_in(browser, console)
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "Personal Edition" in text_of(d, "edition"))
    stop = threading.Event()

    def load():
        with StorageClient(console.address) as client:
            client.save_task({"id": "load", "agent_name": "load", "task_prompt": "p", "schedule_type": "cron",
                              "schedule_value": "0 9 * * *"})
            while not stop.is_set():
                client.get_task("load")

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait.until(lambda d: number(text_of(d, "rate-requests")) > 50, "requests/s did not move under the load")
        assert "get_task" in text_of(browser, "methods")
        # The chart gains a point a second; the counts by status (count_tasks) show the one task.
        wait.until(lambda d: len(d.find_element(By.ID, "chart-line").get_attribute("points").split()) >= 5)
        wait.until(lambda d: "pending 1" in text_of(d, "task-counts"))
        screenshot(browser, "overview", tmp_path)
    finally:
        stop.set()
        worker.join()


def test_stored_strings_are_text_never_markup(console, browser, tmp_path):
    with StorageClient(console.address) as client:
        for n, evil in enumerate(XSS):
            client.save_task({"id": f"t{n}{evil}", "agent_name": f"agent{evil}", "task_prompt": evil, "schedule_type": "cron",
                              "schedule_value": "0 9 * * *", "metadata": {"note": evil}})
            client.save_log(f"t{n}{evil}", "ERROR", f"failed: {evil}", metadata={"why": evil})
    log_in(browser, console)
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: d.find_element(By.ID, "edition").text)
    browser.get(console.http_url + "/console/#tasks")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#task-list tbody tr")) == len(XSS))
    listing = text_of(browser, "task-list")
    for evil in XSS:
        assert f"agent{evil}" in listing  # shown as the characters stored
    browser.find_elements(By.CSS_SELECTOR, "#task-list tbody tr")[0].click()
    wait.until(lambda d: "failed:" in text_of(d, "task-logs"))
    detail = text_of(browser, "task-fields") + text_of(browser, "task-logs")
    assert XSS[0] in detail or json.dumps(XSS[0])[1:-1] in detail
    time.sleep(0.5)  # an onerror would have fired by now
    assert browser.execute_script("return window.__xss === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script:not([src]), main svg[onload]") == []
    screenshot(browser, "task", tmp_path)


def test_task_logs_tail_live_and_the_events_feed_follows(console, browser, tmp_path):
    with StorageClient(console.address) as client:
        client.save_task({"id": "tail", "agent_name": "news", "task_prompt": "p", "schedule_type": "cron", "schedule_value": "0 9 * * *"})
        client.save_log("tail", "INFO", "first line")
        log_in(browser, console)
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: d.find_element(By.ID, "edition").text)
        browser.get(console.http_url + "/console/#tasks")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#task-list tbody tr")) == 1)
        browser.find_elements(By.CSS_SELECTOR, "#task-list tbody tr")[0].click()
        wait.until(lambda d: "first line" in text_of(d, "task-logs"))
        time.sleep(0.5)  # the tail's stream is open
        client.save_log("tail", "WARNING", f"second line {XSS[0]}")
        wait.until(lambda d: "second line" in text_of(d, "task-logs"), "a new log did not reach the open task")
        client.update_task_status("tail", "paused")
        wait.until(lambda d: '"status": "paused"' in text_of(d, "task-fields"))
        # The events feed: every change as it commits, shown as text.
        browser.get(console.http_url + "/console/#events")
        wait.until(lambda d: text_of(d, "events-state") == "following")
        client.save_task({"id": f"new{XSS[1]}", "agent_name": "news", "task_prompt": XSS[2], "schedule_type": "cron",
                          "schedule_value": "0 9 * * *"})
        wait.until(lambda d: f"new{XSS[1]}" in text_of(d, "event-list"))
        # Workers and leases: a claim shows its worker and the time its lease has left.
        client.update_task_status("tail", "pending", next_run=datetime(2026, 1, 1, tzinfo=timezone.utc))
        assert [t["id"] for t in client.claim_due_tasks("worker-7", agent_name="news", lease_seconds=600)] == ["tail"]
        browser.get(console.http_url + "/console/#workers")
        wait.until(lambda d: "worker-7" in text_of(d, "worker-list") and "tail" in text_of(d, "lease-list"))
        left = browser.find_elements(By.CSS_SELECTOR, "#lease-list tbody td")[3].text
        assert 500 < int(left.split()[0]) <= 600
        screenshot(browser, "workers", tmp_path)
    assert browser.execute_script("return window.__xss === undefined")


def test_vectors_slow_calls_and_configuration(console, browser, tmp_path):
    with StorageClient(console.address) as client, StorageClient(console.address) as other:
        client.create_collection("kb", 3)
        client.add_documents([f"reset a password {XSS[0]}", "quarterly revenue"], [{"source": XSS[1]}, {"source": "finance"}],
                             collection="kb")
        # A slow call: a write that waits for another connection's transaction to end (SQLite's one writer).
        with client.transaction() as tx:
            tx.save_task({"id": "held", "agent_name": "news", "task_prompt": "p", "schedule_type": "cron", "schedule_value": "0 9 * * *"})
            waiting = threading.Thread(target=lambda: other.save_task({"id": "waited", "agent_name": "news", "task_prompt": "p",
                                                                       "schedule_type": "cron", "schedule_value": "0 9 * * *"}))
            waiting.start()
            time.sleep(0.3)
        waiting.join()
    log_in(browser, console)
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: d.find_element(By.ID, "edition").text)
    browser.get(console.http_url + "/console/#vectors")
    wait.until(lambda d: "kb" in text_of(d, "collection-list"))
    browser.find_element(By.ID, "search-query").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "#vector-search button").click()
    wait.until(lambda d: "reset a password" in text_of(d, "search-hits"))
    assert XSS[0] in text_of(browser, "search-hits") and "finance" not in text_of(browser, "search-hits")
    screenshot(browser, "vectors", tmp_path)
    browser.get(console.http_url + "/console/#slow")
    wait.until(lambda d: "save_task" in text_of(d, "slow-list"), "the write that waited is not among the slow calls")
    browser.get(console.http_url + "/console/#config")
    wait.until(lambda d: "server.auth_token" in text_of(d, "config-list"))
    config = text_of(browser, "config-list")
    assert TOKEN not in config and READER not in config  # secrets only as whether they are set
    # What a reload would change: the file edited, nothing applied yet.
    browser.find_element(By.ID, "reload-preview").click()
    wait.until(lambda d: text_of(d, "reload-note") == "nothing would change")
    with open(console.config, "a") as f:
        f.write("  max_connections: 77\n")
    browser.find_element(By.ID, "reload-preview").click()
    wait.until(lambda d: "server.max_connections" in text_of(d, "reload-changes"))
    row = text_of(browser, "reload-changes")
    assert "1024" in row and "77" in row and "at a reload" in row
    assert browser.execute_script("return window.__xss === undefined")


def test_phone_sized_screen(console, browser, tmp_path):
    browser.set_window_size(390, 844)
    log_in(browser, console)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "edition").text)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(browser, "phone", tmp_path)


def test_wrong_and_reader_tokens_do_not_open_it(console, browser):
    log_in(browser, console, token="not-the-token")
    WebDriverWait(browser, 30).until(lambda d: text_of(d, "login-error") == "Wrong token.")
    assert browser.get_cookies() == []
    log_in(browser, console, token=READER)
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "login-error"), "admin token"))
    assert browser.get_cookies() == []


def http(proxy, method, path, body=None, headers=None):
    request = urllib.request.Request(proxy.http_url + path, method=method, headers=headers or {},
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_session_cookie_csp_and_csrf(console):
    status, headers, _ = http(console, "GET", "/console/")
    assert status == 200
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    # A login without the header a cross-site form cannot send is refused.
    assert http(console, "POST", "/console/login", {"token": TOKEN})[0] == 403
    status, headers, _ = http(console, "POST", "/console/login", {"token": TOKEN}, {"X-CSRF-Token": "login"})
    assert status == 200
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    session = cookie.split(";")[0]
    status, _, body = http(console, "GET", "/console/session", headers={"Cookie": session})
    csrf = json.loads(body)["csrf"]
    call = {"jsonrpc": "2.0", "id": 1, "method": "count_tasks"}
    # The cookie alone does not act: a cross-site page could make the browser send it.
    assert http(console, "POST", "/", call, {"Cookie": session})[0] == 403
    assert http(console, "POST", "/", call, {"Cookie": session, "X-CSRF-Token": "guess"})[0] == 403
    status, _, body = http(console, "POST", "/", call, {"Cookie": session, "X-CSRF-Token": csrf})
    assert status == 200 and json.loads(body)["result"] == 0
    # Logged out: the cookie opens nothing any more.
    assert http(console, "POST", "/console/logout", headers={"Cookie": session})[0] == 403
    assert http(console, "POST", "/console/logout", headers={"Cookie": session, "X-CSRF-Token": csrf})[0] == 200
    assert http(console, "GET", "/console/session", headers={"Cookie": session})[0] == 401
    assert http(console, "POST", "/", call, {"Cookie": session, "X-CSRF-Token": csrf})[0] == 403


def test_over_tls_the_cookie_is_secure():
    """With server.tls the console is HTTPS (the listener's), and its cookie is never sent over plain HTTP."""
    proxy = Proxy("personal", token=TOKEN, http=True, tls=True)
    try:
        context = ssl.create_default_context(cafile=proxy.ca)
        request = urllib.request.Request(proxy.http_url + "/console/login", method="POST", data=json.dumps({"token": TOKEN}).encode(),
                                         headers={"X-CSRF-Token": "login"})
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            cookie = answer.headers["set-cookie"]
        assert answer.status == 200 and "; Secure" in cookie and "HttpOnly" in cookie
        with urllib.request.urlopen(urllib.request.Request(proxy.http_url + "/console/session",
                                                           headers={"Cookie": cookie.split(";")[0]}), timeout=10, context=context) as answer:
            assert len(json.loads(answer.read())["csrf"]) == 64
    finally:
        proxy.stop()


def test_live_view_is_bounded(console):
    with open(console.config, "a") as f:
        f.write("  console_max_viewers: 1\n")
    console.stop()
    console.start()
    _, headers, _ = http(console, "POST", "/console/login", {"token": TOKEN}, {"X-CSRF-Token": "login"})
    session = headers["set-cookie"].split(";")[0]
    first = urllib.request.urlopen(urllib.request.Request(console.http_url + "/console/live", headers={"Cookie": session}), timeout=10)
    try:
        assert first.status == 200 and first.headers["content-type"].startswith("text/event-stream")
        lines = [first.readline() for _ in range(4)]
        assert b"event: status\n" in lines
        status, _, body = http(console, "GET", "/console/live", headers={"Cookie": session})
        assert status == 503 and b"console_max_viewers" in body
        # The events streams share the bound.
        assert http(console, "GET", "/console/events", headers={"Cookie": session})[0] == 503
    finally:
        first.close()
    assert http(console, "GET", "/console/live")[0] == 401  # no session
    assert http(console, "GET", "/console/events?task_id=x")[0] == 401
    # Closed, the view frees its place: an events stream opens and says how soon to reconnect.
    deadline = time.time() + 10
    while True:
        try:
            stream = urllib.request.urlopen(urllib.request.Request(console.http_url + "/console/events?topics=logs",
                                                                   headers={"Cookie": session}), timeout=10)
            break
        except urllib.error.HTTPError as error:
            assert error.code == 503 and time.time() < deadline
            time.sleep(0.1)
    with stream:
        assert stream.readline() == b"retry: 2000\n"
