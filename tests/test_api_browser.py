"""The web page at ``/`` in a real headless Chromium, driven with selenium and Debian's chromedriver.

Install (Debian): ``apt-get install -y chromium chromium-driver``; selenium from PyPI.
Skipped, saying why, when either is missing.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer, serve_api
from conftest import LETTA_KEY, Repo

from switchboard.envelope import written
from switchboard.store import Transaction

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 20


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API with the built-in ticker."""
    with serve_api(repo, key, tick_every=0.5) as server:
        yield server


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a throwaway profile and no network chatter of its own."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    # An explicit driver path: selenium then never tries to fetch a driver of its own.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """Wait for ``condition`` (up to WAIT seconds), saying what did not happen."""
    # The page re-renders its tables on every change: an element read mid-render is simply read again.
    wait = WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition, message=what)


def text(driver: Any, element_id: str) -> str:
    """The visible text of an element."""
    value: str = driver.find_element(By.ID, element_id).text
    return value


def rows(driver: Any, table: str) -> list[Any]:
    """The rows of a schedule table that stand for a schedule."""
    return list(driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr[data-id]"))


def type_into(driver: Any, element_id: str, value: str) -> None:
    """Replace an input's value by typing."""
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def storage(driver: Any) -> list[Any]:
    """[cookies, localStorage entries, sessionStorage entries] of the page."""
    result: list[Any] = driver.execute_script(
        "return [document.cookie, window.localStorage.length, window.sessionStorage.length]"
    )
    return result


def answer_confirm(driver: Any, *, accept: bool) -> str:
    """Answer the page's confirmation dialog; returns its question."""
    dialog = until(driver, lambda d: _alert(d), "the page asks first")
    question: str = dialog.text
    dialog.accept() if accept else dialog.dismiss()
    return question


def _alert(driver: Any) -> Any:
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def use_key(driver: Any, key: str, *, remember: bool = False) -> None:
    """Paste a key and press "Use key"."""
    type_into(driver, "key", key)
    box = driver.find_element(By.ID, "remember")
    if box.is_selected() != remember:
        box.click()
    driver.find_element(By.ID, "use-key").click()


def test_the_page_manages_schedules_in_a_real_browser(api: ApiServer, browser: Any, tmp_path: Path) -> None:
    browser.get(api.base_url + "/")
    assert browser.title == "letta-switchboard"
    assert not browser.find_element(By.ID, "main").is_displayed()

    # A key Letta refuses.
    use_key(browser, "sk-let-wrong")
    until(browser, lambda d: "did not accept" in text(d, "key-status"), "a refused key is said so")
    assert not browser.find_element(By.ID, "main").is_displayed()

    # The right key, kept only in the page's memory.
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: d.find_element(By.ID, "main").is_displayed(), "the key opens the page")
    assert browser.find_element(By.ID, "key").get_attribute("value") == ""
    assert storage(browser) == ["", 0, 0]

    # A one-time schedule in natural language: preview first, then save.
    type_into(browser, "agent", api.agent)
    type_into(browser, "message", "Browser hello")
    type_into(browser, "when", "tomorrow at 9am")
    type_into(browser, "tz", "Europe/Berlin")
    save = browser.find_element(By.ID, "save")
    assert not save.is_enabled(), "nothing is saved before its preview"
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "Once, at" in text(d, "preview-out"), "the preview shows the instant")
    assert "Europe/Berlin" in text(browser, "preview-out")
    until(browser, lambda d: d.find_element(By.ID, "save").is_enabled(), "a previewed phrase can be saved")
    browser.find_element(By.ID, "save").click()
    until(browser, lambda d: len(rows(d, "one-time-table")) == 1, "the new schedule is listed")
    [made] = api.client().get("/schedules/one-time").json()
    assert made["message"] == "Browser hello"
    assert text(browser, "preview-out") == f"Saved one-time schedule {made['id']}.", "the page says what it saved"
    until(browser, lambda d: rows(d, "one-time-table")[0].get_attribute("data-id") == made["id"], "its row has its id")

    # A phrase that is not a time: the preview says so and nothing can be saved.
    type_into(browser, "when", "when pigs fly")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "could not understand" in text(d, "preview-out"), "a bad phrase is explained")
    assert not browser.find_element(By.ID, "save").is_enabled()

    # A time already past: the preview shows the instant, says it has passed, and nothing can be saved.
    type_into(browser, "when", "yesterday at 9am")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "already passed" in text(d, "preview-out"), "a past time is refused")
    assert not browser.find_element(By.ID, "save").is_enabled()
    said = text(browser, "preview-out")
    assert re.match(r"Once, at yesterday 09:00 CES?T, \d+ h ago \(Europe/Berlin\)", said), said
    assert "--allow-past" not in said, "the page names no CLI flag"

    # A recurring one: preview, save, pause, resume, delete.
    Select(browser.find_element(By.ID, "kind")).select_by_value("recurring")
    type_into(browser, "message", "Standup")
    type_into(browser, "when", "every weekday at 10am")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "0 10 * * 1-5" in text(d, "preview-out"), "the cron is previewed")
    browser.find_element(By.ID, "save").click()
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "the recurring schedule is listed")

    def status(d: Any) -> str:
        value: str = rows(d, "recurring-table")[0].find_element(By.CSS_SELECTOR, "td.status").text
        return value

    until(browser, lambda d: status(d) == "active", "a new schedule is active")
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=pause]").click()
    until(browser, lambda d: status(d) == "paused", "pause shows")
    assert api.client().get("/schedules/recurring").json()[0]["status"] == "paused"
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=resume]").click()
    until(browser, lambda d: status(d) == "active", "resume shows")
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=delete-recurring]").click()
    answer_confirm(browser, accept=True)
    until(browser, lambda d: not rows(d, "recurring-table"), "the recurring schedule is deleted")
    assert api.client().get("/schedules/recurring").json() == []

    browser.find_element(By.CSS_SELECTOR, "#one-time-table button[data-action=delete-one-time]").click()
    answer_confirm(browser, accept=True)
    until(browser, lambda d: not rows(d, "one-time-table"), "the one-time schedule is deleted")

    # Sent now: the built-in ticker delivers it, and the page shows Letta's run id.
    Select(browser.find_element(By.ID, "kind")).select_by_value("one-time")
    type_into(browser, "message", "Right now, please")
    browser.find_element(By.ID, "when").clear()
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "as soon as it is saved" in text(d, "preview-out"), "no time means now")
    browser.find_element(By.ID, "save").click()
    deadline = time.monotonic() + WAIT

    def delivered(d: Any) -> bool:
        if time.monotonic() > deadline:
            return False
        d.find_element(By.ID, "refresh").click()
        time.sleep(0.3)
        return bool(d.find_elements(By.CSS_SELECTOR, "#results-table td.run-id"))

    until(browser, delivered, "the delivery shows in the results")
    [delivery] = api.standin.deliveries
    # Made on the page: in the envelope (the REST API's own default is as sent), the message unchanged.
    assert written(delivery.text) == "Right now, please" and delivery.text.startswith("<system-reminder>\n")
    until(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, "#results-table td.run-id").text == delivery.run_id,
        "the run id shown is Letta's",
    )

    def ended(d: Any) -> bool:
        d.find_element(By.ID, "refresh").click()
        time.sleep(0.3)
        return bool(d.find_element(By.CSS_SELECTOR, "#results-table td.run-status").text == "completed")

    until(browser, ended, "a later tick saw the run end, and the page shows it")
    browser.save_screenshot(str(tmp_path / "page.png"))

    # The key never left the tab: no cookie, nothing stored; a reload forgets it.
    assert storage(browser) == ["", 0, 0]
    browser.refresh()
    until(browser, lambda d: d.find_element(By.ID, "key").is_displayed(), "the page reloads")
    assert not browser.find_element(By.ID, "main").is_displayed()


def test_keep_for_this_tab_uses_session_storage_only(api: ApiServer, browser: Any) -> None:
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY, remember=True)
    until(browser, lambda d: d.find_element(By.ID, "main").is_displayed(), "the key opens the page")
    assert storage(browser) == ["", 0, 1]
    browser.refresh()
    until(browser, lambda d: d.find_element(By.ID, "main").is_displayed(), "the tab remembers the key")
    browser.find_element(By.ID, "forget-key").click()
    assert storage(browser) == ["", 0, 0]
    assert not browser.find_element(By.ID, "main").is_displayed()


def test_run_now_sends_one_extra_fire_from_the_page(api: ApiServer, browser: Any) -> None:
    made = api.client().post(
        "/schedules/recurring", json={"agent_id": api.agent, "cron": "every weekday at 10am", "message": "Extra"}
    )
    assert made.status_code == 201, made.text
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "the recurring schedule is listed")
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=run]").click()
    assert "now, once" in answer_confirm(browser, accept=True)
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results-table td.run-id"), "the run shows")
    [delivery] = api.standin.deliveries
    assert (delivery.agent_id, delivery.text) == (api.agent, "Extra")
    row = browser.find_element(By.CSS_SELECTOR, "#results-table tbody tr")
    assert row.find_element(By.CSS_SELECTOR, "td.run-id").text == delivery.run_id
    assert row.find_element(By.CSS_SELECTOR, "td.status").text == "success (manual run)"
    assert text(browser, "notice") == ""
    [after] = api.client().get("/schedules/recurring").json()
    assert (after["last_run"], after["next_run"]) == (made.json()["last_run"], made.json()["next_run"])


def test_the_page_names_and_changes_schedules_in_place(api: ApiServer, browser: Any) -> None:
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: d.find_element(By.ID, "main").is_displayed(), "the key opens the page")

    # A named recurring schedule, made on the page.
    Select(browser.find_element(By.ID, "kind")).select_by_value("recurring")
    type_into(browser, "agent", api.agent)
    type_into(browser, "name", "standup")
    type_into(browser, "message", "Standup")
    type_into(browser, "when", "every weekday at 10am")
    type_into(browser, "tz", "Europe/Berlin")
    type_into(browser, "conversation", "new")  # a new conversation for every fire
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: d.find_element(By.ID, "save").is_enabled(), "a previewed phrase can be saved")
    browser.find_element(By.ID, "save").click()
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "the recurring schedule is listed")
    [made] = api.client().get("/schedules/recurring").json()
    assert (made["name"], made["conversation"], made["envelope"]) == ("standup", "new", True)

    def cell_text(d: Any, table: str, name: str) -> str:
        value: str = rows(d, table)[0].find_element(By.CSS_SELECTOR, f"td.{name}").text
        return value

    until(browser, lambda d: cell_text(d, "recurring-table", "name") == "standup", "the name is listed")

    # Edit: a new message and name are saved at once; a new time only after its preview.
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=edit-recurring]").click()
    until(browser, lambda d: d.find_element(By.ID, "edit-section").is_displayed(), "the edit form opens")
    assert browser.find_element(By.ID, "edit-when").get_attribute("value") == "0 10 * * 1-5"
    assert browser.find_element(By.ID, "edit-tz").get_attribute("value") == "Europe/Berlin"
    type_into(browser, "edit-message", "Standup, in the big room")
    type_into(browser, "edit-name", "daily standup")
    type_into(browser, "edit-when", "every day at 9am")
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "0 9 * * *" in text(d, "edit-out"), "a new time is previewed first")
    assert "Europe/Berlin" in text(browser, "edit-out")
    assert api.client().get(f"/schedules/recurring/{made['id']}").json() == made, "nothing saved before the preview"
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "keeps its id" in text(d, "edit-out"), "the change is saved")
    changed = api.client().get(f"/schedules/recurring/{made['id']}").json()
    assert (changed["id"], changed["name"], changed["message"]) == (
        made["id"],
        "daily standup",
        "Standup, in the big room",
    )
    assert (changed["cron"], changed["timezone"]) == ("0 9 * * *", "Europe/Berlin")
    until(browser, lambda d: cell_text(d, "recurring-table", "name") == "daily standup", "the new name is listed")
    until(browser, lambda d: "big room" in cell_text(d, "recurring-table", "message"), "the new message is listed")

    # A bad phrase is explained and nothing is saved.
    type_into(browser, "edit-when", "every blue moon")
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "could not understand" in text(d, "edit-out"), "a bad phrase is explained")
    assert api.client().get(f"/schedules/recurring/{made['id']}").json() == changed
    browser.find_element(By.ID, "edit-when").send_keys(" x")
    until(browser, lambda d: text(d, "edit-out") == "", "the edit form's error goes once the input changes")
    browser.find_element(By.ID, "edit-cancel").click()
    assert not browser.find_element(By.ID, "edit-section").is_displayed()

    # A one-time message moves to a new time, keeping its id; removing the name clears it.
    with api.client() as client:
        once = client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Later", "execute_at": "2031-05-04T09:00:00Z", "name": "later"},
        ).json()
    browser.find_element(By.ID, "refresh").click()
    until(browser, lambda d: len(rows(d, "one-time-table")) == 1, "the one-time schedule is listed")
    browser.find_element(By.CSS_SELECTOR, "#one-time-table button[data-action=edit-one-time]").click()
    until(browser, lambda d: d.find_element(By.ID, "edit-section").is_displayed(), "the edit form opens")
    type_into(browser, "edit-when", "yesterday at 9am")
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "already passed" in text(d, "edit-out"), "a past time is refused in the edit form too")
    assert "--allow-past" not in text(browser, "edit-out")
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "already passed" in text(d, "edit-out"), "and refused again, never saved")
    assert api.client().get(f"/schedules/one-time/{once['id']}").json() == once
    type_into(browser, "edit-when", "2031-06-01 08:30")
    type_into(browser, "edit-tz", "Asia/Tokyo")
    browser.find_element(By.ID, "edit-name").clear()
    browser.find_element(By.ID, "edit-preview").click()
    until(browser, lambda d: "2031-05-31 23:30 UTC" in text(d, "edit-out"), "the new instant is previewed")
    assert "01 08:30 JST" in text(browser, "edit-out") or "01 08:30 GMT+9" in text(browser, "edit-out")
    browser.find_element(By.ID, "edit-save").click()
    until(browser, lambda d: "keeps its id" in text(d, "edit-out"), "the change is saved")
    moved = api.client().get(f"/schedules/one-time/{once['id']}").json()
    assert (moved["execute_at"], moved["name"], moved["message"]) == ("2031-05-31T23:30:00+00:00", None, "Later")


def test_deleting_and_running_now_are_asked_first(api: ApiServer, browser: Any) -> None:
    with api.client() as client:
        once = client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Later", "execute_at": "2031-05-04T09:00:00Z", "name": "later"},
        ).json()
        every = client.post(
            "/schedules/recurring", json={"agent_id": api.agent, "cron": "0 10 * * *", "message": "Daily"}
        ).json()
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "the schedules are listed")

    # Saying no changes nothing and sends nothing.
    browser.find_element(By.CSS_SELECTOR, "#one-time-table button[data-action=delete-one-time]").click()
    assert answer_confirm(browser, accept=False) == 'Delete the one-time message "later"? It will not be sent.'
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=run]").click()
    assert every["id"] in answer_confirm(browser, accept=False)
    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=delete-recurring]").click()
    assert "will not fire again" in answer_confirm(browser, accept=False)
    time.sleep(1)  # a request the page wrongly sent would have landed by now
    assert api.client().get(f"/schedules/one-time/{once['id']}").status_code == 200
    assert api.client().get(f"/schedules/recurring/{every['id']}").status_code == 200
    assert api.standin.deliveries == []

    # Saying yes does it.
    browser.find_element(By.CSS_SELECTOR, "#one-time-table button[data-action=delete-one-time]").click()
    answer_confirm(browser, accept=True)
    until(browser, lambda d: not rows(d, "one-time-table"), "the one-time schedule is deleted")
    assert api.client().get(f"/schedules/one-time/{once['id']}").status_code == 404


def test_times_are_shown_in_the_schedules_zone_with_its_label(api: ApiServer, browser: Any) -> None:
    with api.client() as client:
        client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Summer", "execute_at": "2031-07-01 09:00",
                  "timezone": "Europe/Berlin"},
        )  # fmt: skip
        client.post(
            "/schedules/recurring",
            json={"agent_id": api.agent, "cron": "0 9 * * *", "message": "Daily", "timezone": "America/New_York"},
        )
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "the schedules are listed")
    one_time = rows(browser, "one-time-table")[0].find_element(By.CSS_SELECTOR, "td.when").text
    assert one_time.startswith("2031-07-01 09:00 CEST, in "), one_time
    upcoming = rows(browser, "recurring-table")[0].find_element(By.CSS_SELECTOR, "td.next").text
    assert re.fullmatch(r"(today|tomorrow) 09:00 E[SD]T, in \d+ (min|h)", upcoming), upcoming


def test_previews_are_for_people_and_a_stale_error_goes_away(api: ApiServer, browser: Any) -> None:
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: d.find_element(By.ID, "main").is_displayed(), "the key opens the page")
    type_into(browser, "when", "tomorrow at 9am")
    type_into(browser, "tz", "Europe/Berlin")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "Once, at" in text(d, "preview-out"), "the preview shows the instant")
    said = text(browser, "preview-out")
    assert re.search(
        r"Once, at tomorrow 09:00 CES?T, in \d+ (min|h) \(Europe/Berlin\) — \d{4}-\d\d-\d\d 0[78]:00 UTC", said
    ), said
    assert not re.search(r"\d\d:\d\d:\d\d", said), "no raw ISO seconds"

    type_into(browser, "when", "when pigs fly")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: "could not understand" in text(d, "preview-out"), "a bad phrase is explained")
    browser.find_element(By.ID, "when").send_keys(" x")
    until(browser, lambda d: text(d, "preview-out") == "", "the error goes once the input changes")
    assert "error" not in (browser.find_element(By.ID, "preview-out").get_attribute("class") or "")

    # An error from Save is about the fields as they were: it goes as soon as one of them changes.
    type_into(browser, "when", "tomorrow at 9am")
    type_into(browser, "agent", "agent-nobody")
    type_into(browser, "message", "Hello")
    browser.find_element(By.ID, "preview").click()
    until(browser, lambda d: d.find_element(By.ID, "save").is_enabled(), "a previewed phrase can be saved")
    browser.find_element(By.ID, "save").click()
    until(browser, lambda d: "agent_id" in text(d, "preview-out"), "the refused agent id is explained")
    assert api.client().get("/schedules/one-time").json() == []
    type_into(browser, "agent", api.agent)
    until(browser, lambda d: text(d, "preview-out") == "", "the save's error goes once a field changes")
    browser.find_element(By.ID, "save").click()
    until(browser, lambda d: "Saved one-time schedule" in text(d, "preview-out"), "the fixed message is saved")


def test_results_show_the_message_and_tables_filter_and_page(api: ApiServer, browser: Any) -> None:
    with api.client() as client:
        for n in range(23):
            made = client.post(
                "/schedules/one-time",
                json={"agent_id": api.agent, "message": f"Note {n:02d}", "execute_at": f"2031-05-04T09:{n:02d}:00Z",
                      "name": f"note-{n:02d}"},
            )  # fmt: skip
            assert made.status_code == 201, made.text
        client.post("/schedules/recurring", json={"agent_id": api.agent, "cron": "0 10 * * *", "message": "Daily"})
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "one-time-table")) == 20, "a page shows 20")
    assert "page 1 of 2 (23)" in text(browser, "one-time-table-pager")
    browser.find_element(By.CSS_SELECTOR, "#one-time-table-pager button[data-page=next]").click()
    until(browser, lambda d: len(rows(d, "one-time-table")) == 3, "the second page shows the rest")
    assert rows(browser, "one-time-table")[-1].find_element(By.CSS_SELECTOR, "td.name").text == "note-22"

    type_into(browser, "filter", "note-07")
    until(browser, lambda d: len(rows(d, "one-time-table")) == 1, "the filter keeps what matches")
    assert rows(browser, "one-time-table")[0].find_element(By.CSS_SELECTOR, "td.name").text == "note-07"
    until(browser, lambda d: not rows(d, "recurring-table"), "the other tables are filtered too")
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")
    until(browser, lambda d: len(rows(d, "recurring-table")) == 1, "an empty filter shows everything")

    browser.find_element(By.CSS_SELECTOR, "#recurring-table button[data-action=run]").click()
    answer_confirm(browser, accept=True)
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results-table td.run-id"), "the run shows")
    row = browser.find_element(By.CSS_SELECTOR, "#results-table tbody tr")
    assert row.find_element(By.CSS_SELECTOR, "td.message").text == "Daily"


def test_a_schedule_being_delivered_is_not_deleted_and_the_page_says_why(api: ApiServer, browser: Any) -> None:
    with api.client() as client:
        once = client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Later", "execute_at": "2031-05-04T09:00:00Z", "name": "later"},
        ).json()
    store = api.state.store

    def claim(tx: Transaction) -> None:
        # As a pass on another machine does the moment it starts delivering it.
        held = store.load(store.locate(store.tenant(LETTA_KEY), once["id"]))
        tx.save(held.model_copy(update={"claimed_by": "a-running-pass", "claimed_at": api.state.now()}))

    store.transact("tests: a tick claims it", claim)
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "one-time-table")) == 1, "the schedule is listed")
    delete = browser.find_element(By.CSS_SELECTOR, "#one-time-table button[data-action=delete-one-time]")
    delete.click()
    answer_confirm(browser, accept=True)
    until(browser, lambda d: d.find_element(By.ID, "notice").is_displayed(), "the refusal is shown")
    assert text(browser, "notice").startswith(
        f"one-time schedule {once['id']} is being delivered by a tick right now — nothing was deleted; try again"
    ), text(browser, "notice")
    assert text(browser, "notice").count("try again") == 1, "said once"
    assert api.client().get(f"/schedules/one-time/{once['id']}").status_code == 200
    assert len(rows(browser, "one-time-table")) == 1 and delete.is_enabled(), "it can be asked again"


def test_the_page_says_when_files_of_yours_do_not_open(api: ApiServer, browser: Any) -> None:
    with api.client() as client:
        made = {"agent_id": api.agent, "message": "Later", "execute_at": "2031-05-04T09:00:00Z"}
        assert client.post("/schedules/one-time", json=made).status_code == 201
    browser.get(api.base_url + "/")
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: len(rows(d, "one-time-table")) == 1, "the schedule is listed")
    assert not browser.find_element(By.ID, "unreadable").is_displayed()

    store = api.state.store
    mine = store.tenant(LETTA_KEY)
    damaged = f"data/schedules/one-time/2031-05-04/10/{mine}/{'0' * 8}-1111-4222-8333-{'4' * 12}.json.enc"
    store.transact("tests: a file nobody can open", lambda tx: tx.put(damaged, b"not a token at all"))
    browser.refresh()
    use_key(browser, LETTA_KEY)
    until(browser, lambda d: d.find_element(By.ID, "unreadable").is_displayed(), "the note is shown")
    assert text(browser, "unreadable") == (
        "One file of yours could not be read and is left out of these lists. "
        "`switchboard doctor` names each and says why."
    )
    listed = rows(browser, "one-time-table")
    assert len(listed) == 1 and "Later" in listed[0].text, "the rest is shown"
