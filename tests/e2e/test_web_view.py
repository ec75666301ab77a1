"""The web view as a person uses it, in a real headless Chromium driven by
Selenium: the page loads with a key in its address, a real client's
session appears, the filter narrows the table, the admin selects the
session and kicks it after a confirmation that says how many connections
will drop, and the real client's connection drops while a bystander's
stays. A screenshot and the page's source are kept when a test fails."""

import os
import shutil
import sys
import tempfile
import time
import unittest

from harness import test_failed, wait_until
from httpd_harness import HttpdStack

try:
    import selenium  # noqa: F401
except ImportError:
    # Debian's python3-selenium (scripts/deps.sh), for a Python 3 that is
    # not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = os.environ.get("ANVIL_TEST_ARTIFACTS") or os.path.join(tempfile.gettempdir(),
                                                                 "anvil-web-view-failures")


class WebView(HttpdStack):

    def setUp(self):
        self.assertIsNotNone(CHROMEDRIVER, "needs chromium and chromium-driver (scripts/deps.sh)")
        super().setUp()
        self.echod = self.start_echod(service="imap")
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000",
                         f"--user-data-dir={self.dir}/chromium"):
            options.add_argument(argument)
        self.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.browser.set_page_load_timeout(60)
        self.addCleanup(self.close_browser)

    def close_browser(self):
        if test_failed(self):
            os.makedirs(ARTIFACTS, exist_ok=True)
            stem = os.path.join(ARTIFACTS, self.id())
            self.browser.save_screenshot(stem + ".png")
            with open(stem + ".html", "w") as f:
                f.write(self.browser.page_source)
            print(f"\nscreenshot of the failed test: {stem}.png", flush=True)
        self.browser.quit()

    def find(self, selector):
        return self.browser.find_element(By.CSS_SELECTOR, selector)

    def rows(self):
        """(user, client address) of each session row shown, read in one
        step: the table may be refreshed between two reads of it."""
        shown = self.browser.execute_script(
            "return [...document.querySelectorAll('#sessions tbody tr[data-id]')]"
            ".map(tr => [tr.children[1].textContent, tr.children[4].textContent])")
        return sorted((user, client.rsplit(":", 1)[0]) for user, client in shown)

    def wait_rows(self, expected):
        self.assertTrue(wait_until(lambda: self.rows() == expected, timeout=20),
                        f"rows {self.rows()} != {expected}")

    def open(self, key):
        self.browser.get(f"{self.url}/#key={key}")
        self.assertTrue(wait_until(lambda: self.find("#status").text == "live", timeout=20),
                        self.find("#status").text)
        # The key left the address bar.
        self.assertNotIn("key=", self.browser.current_url)

    def test_a_session_appears_is_filtered_selected_and_kicked(self):
        self.open(self.kick_key)
        self.assertEqual(self.find("#identity").text, "key ops (kick)")
        self.wait_rows([])
        jane = self.connect(self.echod, "127.0.0.2", "jane")
        bob = self.connect(self.echod, "127.0.0.3", "bob")
        # Live: the sessions appear without a reload.
        self.wait_rows([("bob", "127.0.0.3"), ("jane", "127.0.0.2")])

        # The filter box takes who's words; a bad one says what anvilctl says.
        box = self.find("#filter")
        box.send_keys("127.0.0.0/33", Keys.ENTER)
        self.assertTrue(wait_until(lambda: self.find("#filter-error").text ==
                                   "invalid IP address or network: 127.0.0.0/33", timeout=10),
                        self.find("#filter-error").text)
        box.clear()
        box.send_keys("j*", Keys.ENTER)
        self.wait_rows([("jane", "127.0.0.2")])
        self.assertEqual(self.find("#filter-error").text, "")

        # Select with the keyboard, kick with a reason.
        checkbox = self.find("#sessions tbody tr[data-id] input[type=checkbox]")
        checkbox.send_keys(Keys.SPACE)
        self.assertTrue(wait_until(lambda: self.find("#selected-count").text == "1", timeout=5))
        reason = self.find("#reason")
        reason.clear()
        reason.send_keys("password changed")
        self.find("#kick-selected").click()
        dialog = self.find("#confirm")
        self.assertTrue(wait_until(lambda: dialog.get_attribute("open") is not None, timeout=10))
        self.assertEqual(self.find("#confirm-text").text, "1 connection will drop:")
        self.assertEqual(self.find("#confirm-users").text, "jane imap")
        # The dry run dropped nothing.
        self.assertTrue(jane.alive() and bob.alive())
        self.find("#confirm-ok").click()
        self.assertTrue(wait_until(lambda: self.find("#notice").text.startswith("kicked 1 of 1"),
                                   timeout=20), self.find("#notice").text)
        self.assertEqual(jane.read_bye(), "BYE password changed")
        self.assertTrue(bob.alive())
        self.wait_rows([])

        # The kick is in the audit table, done by this key.
        def audited():
            rows = self.browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
            return rows and rows[0].text
        self.assertTrue(wait_until(lambda: "anvil-httpd key ops" in (audited() or ""), timeout=10),
                        audited())

    def test_cancel_kicks_nothing_and_a_filter_kick_can_ban(self):
        jane = self.connect(self.echod, "127.0.0.2", "jane")
        bob = self.connect(self.echod, "127.0.0.3", "bob")
        self.open(self.kick_key)
        self.wait_rows([("bob", "127.0.0.3"), ("jane", "127.0.0.2")])
        self.find("#filter").send_keys("jane", Keys.ENTER)
        self.wait_rows([("jane", "127.0.0.2")])
        self.find("#kick-matching").click()
        self.assertTrue(wait_until(lambda: self.find("#confirm").get_attribute("open") is not None,
                                   timeout=10))
        # Escape closes the dialog: nothing happens.
        self.find("#confirm-cancel").send_keys(Keys.ESCAPE)
        self.assertTrue(wait_until(lambda: self.find("#notice").text == "kick cancelled", timeout=10))
        self.assertTrue(jane.alive() and bob.alive())

        Select(self.find("#ban")).select_by_visible_text("1 hour")
        self.find("#kick-matching").click()
        self.assertTrue(wait_until(lambda: self.find("#confirm").get_attribute("open") is not None,
                                   timeout=10))
        self.assertEqual(self.find("#confirm-text").text,
                         "1 connection will drop, and what the filter names will be banned:")
        self.find("#confirm-ok").click()
        self.assertIsNotNone(jane.read_bye())
        self.assertTrue(bob.alive())
        # The ban is listed with its expiry, and can be lifted.
        self.assertTrue(wait_until(
            lambda: "jane" in self.find("#bans tbody").text and "(in " in self.find("#bans tbody").text,
            timeout=10), self.find("#bans tbody").text)
        code, _, _ = self.curl("/api/v1/bans", key=self.read_key)
        self.assertEqual(code, 200)
        self.find("#bans tbody button").click()
        self.assertTrue(wait_until(lambda: self.find("#bans tbody").text == "no bans", timeout=10))

    def test_a_read_key_sees_sessions_but_no_kick_controls(self):
        bob = self.connect(self.echod, "127.0.0.3", "bob")
        self.open(self.read_key)
        self.wait_rows([("bob", "127.0.0.3")])
        self.assertEqual(self.find("#identity").text, "key grafana (read)")
        self.assertFalse(self.find("#kick-form").is_displayed())
        self.assertTrue(bob.alive())

    def test_without_a_key_the_page_asks_for_one(self):
        self.browser.get(self.url + "/")
        self.assertTrue(wait_until(lambda: self.find("#key-form").is_displayed(), timeout=20))
        self.find("#key").send_keys(self.read_key, Keys.ENTER)
        self.assertTrue(wait_until(lambda: self.find("#status").text == "live", timeout=20))
        self.assertEqual(self.find("#identity").text, "key grafana (read)")


if __name__ == "__main__":
    unittest.main()
