"""The demo page of `tts-ebm serve`, end to end in headless Chromium against a real server:
voices listed, speech plays while it streams, time to first audio and real-time factor shown,
the wav offered for download."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serving import Server, running_server
from test_listening import browser, needs_chromium  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("demo")) as server:
        yield server


@pytest.mark.browser
@needs_chromium
def test_demo_page_plays_while_streaming_and_offers_the_wav(browser, server) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(f"{server.url}/")
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
    element = lambda name: browser.find_element(By.ID, name)  # noqa: E731
    assert [o.text for o in element("voice").find_elements(By.TAG_NAME, "option")] == ["default"]
    assert element("steps").get_attribute("value") == "1"  # the voice's default

    element("text").clear()
    element("text").send_keys("Good morning. See you soon.")
    element("speed").clear()
    element("speed").send_keys("1.25")
    element("speak").click()
    wait.until(lambda d: d.execute_script("return 'lastByteMs' in document.body.dataset"))
    data = browser.execute_script("return {...document.body.dataset}")
    first, last, seconds = int(data["firstAudioMs"]), int(data["lastByteMs"]), data["audioSeconds"]
    assert 0 < first < last  # playing began before the answer was complete
    metrics = element("metrics").text
    assert f"first audio after {first} ms" in metrics and "real-time factor" in metrics
    rtf = float(metrics.rsplit(" ", 1)[1])
    assert rtf == pytest.approx(last / 1000 / float(seconds), abs=0.02)

    link = element("download")
    assert link.is_displayed() and link.get_attribute("href").startswith("blob:")
    size = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('download').href)"
        ".then((r) => r.arrayBuffer()).then((b) => done(b.byteLength));"
    )
    assert size - 44 == pytest.approx(float(seconds) * 24000 * 2, abs=48)  # 16-bit, 24 kHz
    problems = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not problems, problems

    element("steps").clear()
    element("steps").send_keys("-3")
    element("speak").click()  # a refusal shows the server's one line
    wait.until(lambda d: "steps must be" in element("metrics").text)
