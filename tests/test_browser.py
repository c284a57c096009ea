"""End to end in a real browser: `moodtune serve` in a subprocess, Debian's Chromium driven by
Playwright, a fake webcam playing a real face photo (a .y4m file written here).

Two servers: the starter catalogue (live label, manual override, likes, photo upload) and a
temporary catalogue of generated audio files scanned with ``catalog scan`` (playback with
auto-advance, the phone layout, stale state, two listeners, keyboard-only use, the closed loop).
Set MOODTUNE_SCREENSHOTS=DIR to keep screenshots of the page playing a local track
(docs/screenshot.png, docs/screenshot-phone.png and docs/player.gif are made that way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from audio import music_folder  # tests/audio.py: generated WAV/OGG/FLAC/MP3 files
from helpers import serve  # the real server on a free loopback port
from playwright.sync_api import expect, sync_playwright  # the test extra: pip install playwright (no browser download)

from moodtune.emotion.labels import CLASSES

CHROMIUM = os.environ.get("MOODTUNE_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("MOODTUNE_SCREENSHOTS")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file() and not shutil.which("chromium"),
                       reason="Chromium is not installed (apt-get install chromium); the browser test needs it"),
]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--mute-audio",
]
SPOTIFY_ID = "4uLU6hMCjMI75M1A2tKUQC"  # a track with a Spotify id plays in Spotify's embed player
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def write_y4m(path: Path, bgr: np.ndarray, frames: int = 12, size=(640, 480), fps: int = 10) -> Path:
    """A YUV4MPEG2 (4:2:0) video of ``bgr`` letterboxed into ``size``, drifting a few pixels per frame."""
    w, h = size
    scale = min(w / bgr.shape[1], h / bgr.shape[0]) * 0.9
    face = cv2.resize(bgr, (int(bgr.shape[1] * scale) // 2 * 2, int(bgr.shape[0] * scale) // 2 * 2), interpolation=cv2.INTER_AREA)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            canvas = np.full((h, w, 3), 110, np.uint8)
            x = (w - face.shape[1]) // 2 + (i % 6) * 3
            y = (h - face.shape[0]) // 2
            canvas[y : y + face.shape[0], x : x + face.shape[1]] = face
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def server():
    """`moodtune serve` (starter catalogue) on a free loopback port, with its own MOODTUNE_HOME; yields (url, home)."""
    with serve("--log-level", "warning") as s:
        yield s.url, s.home


@pytest.fixture(scope="module")
def music_server(tmp_path_factory):
    """`moodtune serve --catalog DB` where DB holds only a scanned folder of generated audio files."""
    from moodtune.music.scan import scan_folder
    from moodtune.music.store import CatalogStore
    from moodtune.music.types import Track

    root = tmp_path_factory.mktemp("music")
    files = music_folder(root / "music", seconds=4.0)
    with CatalogStore.open(root / "catalog.sqlite") as s:
        assert scan_folder(root / "music", s, audio=False).added == len(files)
        s.add_tracks([Track(title="Embedded Song", artists=["Stream Artist"], genres=["pop"], spotify_id=SPOTIFY_ID)])
    with serve("--log-level", "warning", "--catalog", str(root / "catalog.sqlite")) as srv:
        yield srv.url, files


@pytest.fixture(scope="module")
def browser(tmp_path_factory, hopper_bgr):
    y4m = write_y4m(tmp_path_factory.mktemp("camera") / "hopper.y4m", hopper_bgr)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*FLAGS, f"--use-file-for-fake-video-capture={y4m}"])
        expect.set_options(timeout=60_000)
        yield b
        b.close()


def open_page(browser, url, **context_args):
    context = browser.new_context(**({"viewport": {"width": 1360, "height": 1000}} | context_args))
    context.grant_permissions(["camera"], origin=url)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.goto(url + "/")
    expect(pg.locator("#server-status")).to_contain_text("ok")
    return pg


@pytest.fixture(scope="module")
def page(browser, server):
    pg = open_page(browser, server[0])
    yield pg
    pg.context.close()


@pytest.fixture
def music_page(browser, music_server):
    pg = open_page(browser, music_server[0])
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def noface_png(tmp_path_factory) -> Path:
    """A real photo-sized picture without a face: a smooth colour gradient."""
    y, x = np.mgrid[0:480, 0:640]
    img = np.dstack([(x / 640 * 255), (y / 480 * 255), np.full_like(x, 120)]).astype(np.uint8)
    path = tmp_path_factory.mktemp("photos") / "noface.png"
    cv2.imwrite(str(path), img)
    return path


LABEL = re.compile(f"^({'|'.join(CLASSES)})$")


def _titles(pg) -> list[str]:
    return pg.locator("#tracks li .title").all_inner_texts()


def _listener(pg) -> str:
    return pg.evaluate("JSON.parse(localStorage.getItem('moodtune.listener')).id")


def _audio(pg) -> dict:
    return pg.evaluate("(() => { const a = document.querySelector('#audio'); "
                       "return {src: a.currentSrc, paused: a.paused, time: a.currentTime}; })()")


# ----------------------------------------------------------------------------- starter catalogue


def test_live_camera_label_and_tracks(page, server):
    url, _ = server
    import httpx

    music = httpx.get(f"{url}/api/health").json()["recommend"]
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("#emotion-label")).to_have_text(LABEL, timeout=90_000)
    expect(page.locator("#status")).to_contain_text("1 face")
    assert page.get_by_role("button", name="Stop camera").is_visible()
    bars = page.locator("#bars li .pct").all_inner_texts()
    assert len(bars) == 7 and all(b.endswith("%") for b in bars)
    assert page.locator("#va-dot").get_attribute("visibility") == "visible"
    spotify = httpx.get(f"{url}/api/health").json()["spotify"]
    assert page.locator("#spotify-save").is_visible() == spotify  # only with credentials on the server
    if music:
        expect(page.locator("#tracks li").nth(4)).to_be_attached()
        assert all(_titles(page))
        links = page.locator("#tracks li").first.locator("a")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert any("spotify.com" in h for h in hrefs) and any("youtube.com" in h for h in hrefs)
        # the playlist's tracks are points on the circle; a cover tile per track, plain words, numbers behind "why?"
        assert page.locator("#track-points rect").count() == page.locator("#tracks li").count()
        first = page.locator("#tracks li").first
        assert first.locator(".cover").inner_text().strip()
        assert not first.locator("details.why p").first.is_visible()
        first.locator("details.why summary").click()
        expect(first.locator("details.why p").first).to_contain_text("valence")
    assert not [e for e in page.console_errors if "Refused" in e or "Content Security Policy" in e]


def test_manual_override_changes_the_tracks(page, server):
    url, _ = server
    import httpx

    assert httpx.get(f"{url}/api/health").json()["recommend"]  # the music engine is part of the server
    page.locator("input[name=strategy][value=match]").check()
    page.select_option("#mood-override", "happy")
    expect(page.locator("#playlist-reason")).to_contain_text("For happy")
    expect(page.locator("#emotion-label")).to_have_text("happy")
    happy = _titles(page)
    page.select_option("#mood-override", "sad")
    expect(page.locator("#playlist-reason")).to_contain_text("For sad")
    sad = _titles(page)
    assert len(happy) >= 5 and len(sad) >= 5 and set(happy) != set(sad)
    assert "keep you company" in page.locator("#playlist-reason").inner_text()  # match, in plain words
    page.locator("#playlist-why summary").click()
    expect(page.locator("#playlist-why-text")).to_contain_text("Strategy match")
    assert page.locator("#journey").get_attribute("d") == ""
    page.locator("input[name=strategy][value=lift]").check()  # lift: the journey is drawn as a path
    expect(page.locator("#playlist-reason")).to_contain_text("to ease the sadness, one step at a time")
    assert page.locator("#journey").get_attribute("d").startswith("M")
    page.locator("input[name=strategy][value=match]").check()


def test_like_is_stored_with_a_confirmation_next_to_the_track(page, server):
    url, home = server
    import httpx

    assert httpx.get(f"{url}/api/health").json()["recommend"]  # the music engine is part of the server
    first = page.locator("#tracks li").first
    track_id = first.get_attribute("data-id")
    like = first.locator("button.like")
    like.focus()
    page.keyboard.press("Enter")  # keyboard works as well as the mouse
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(first.locator(".confirm")).to_contain_text("Liked")
    events = httpx.get(f"{url}/api/feedback", params={"user": _listener(page)}).json()["events"]
    assert events and events[0]["track"] == track_id and events[0]["action"] == "like"
    assert not httpx.get(f"{url}/api/feedback", params={"user": "default"}).json()["events"]  # not everyone's
    assert (home / "feedback.sqlite").is_file()  # stored on disk in the server's MOODTUNE_HOME


def test_photo_upload(page, hopper_path):
    page.set_input_files("#file", str(hopper_path))
    expect(page.locator("#photo-result")).to_contain_text("1 face")
    assert "grace_hopper.jpg" in page.locator("#photo-result").inner_text()
    assert page.get_by_role("button", name="Start camera").is_visible()  # the camera stopped for the photo
    page.select_option("#mood-override", "")  # back to the detected mood: the photo's
    expect(page.locator("#emotion-label")).to_have_text(LABEL)
    assert not [e for e in page.console_errors if "Uncaught" in e]


def test_phone_sized_screen_has_no_sideways_scrolling(browser, server):
    phone = open_page(browser, server[0], **PHONE)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.keyboard.press("Tab")  # the first stop is the skip link, visible when focused
    assert phone.evaluate("document.activeElement.className") == "skip-link"
    assert phone.get_by_role("button", name="Choose a photo").is_visible()
    assert not phone.locator(".drop-hint").is_visible()  # no "drop one here" on a touch screen
    phone.context.close()


# ----------------------------------------------------------------------------- local music


def test_local_music_plays_and_advances(music_page, music_server, hopper_path):
    pg = music_page
    pg.set_input_files("#file", str(hopper_path))
    first = pg.locator("#tracks li[data-play=audio]").first
    title = first.locator(".title").inner_text()
    assert pg.locator("#tracks li button.play").count() == pg.locator("#tracks li").count()  # every track plays here
    assert pg.locator("#tracks li[data-play=audio]").count() == len(music_server[1])  # the scanned files, by the server
    pg.get_by_role("button", name=f"Play {title}", exact=True).click()
    pg.wait_for_function("() => !document.querySelector('#audio').paused && document.querySelector('#audio').currentTime > 0.2")
    first_src = _audio(pg)["src"]
    assert "/api/audio/" in first_src
    expect(pg.locator("#now-title")).to_have_text(title)
    expect(pg.locator("#tracks li.playing .title")).to_have_text(title)
    assert pg.evaluate("navigator.mediaSession.metadata && navigator.mediaSession.metadata.title") == title
    # auto-advance: the 4-second track ends and the next one in the playlist plays
    pg.wait_for_function(f"() => document.querySelector('#audio').currentSrc !== {json.dumps(first_src)} && "
                         "!document.querySelector('#audio').paused", timeout=60_000)
    second = pg.locator("#tracks li[data-play=audio]").nth(1).locator(".title").inner_text()
    expect(pg.locator("#now-title")).to_have_text(second)
    pg.get_by_role("button", name="Pause", exact=True).click()
    pg.wait_for_function("() => document.querySelector('#audio').paused")
    pg.get_by_role("button", name="Previous track").click()
    expect(pg.locator("#now-title")).to_have_text(title)
    pg.get_by_role("button", name="Next track").click()
    expect(pg.locator("#now-title")).to_have_text(second)
    # export links for the same tracks
    href = pg.locator("#export-m3u8").get_attribute("href")
    text = pg.evaluate(f"fetch({json.dumps(href)}).then(r => r.text())")
    assert text.startswith("#EXTM3U") and title in text
    if SHOTS:
        out = Path(SHOTS)
        out.mkdir(parents=True, exist_ok=True)
        pg.set_viewport_size({"width": 1280, "height": 800})
        pg.get_by_role("button", name=f"Play {title}", exact=True).click()
        pg.wait_for_function("() => document.querySelector('#audio').currentTime > 1.2")
        pg.screenshot(path=str(out / "screenshot.png"))
    assert not [e for e in pg.console_errors if "Refused" in e or "Uncaught" in e]


def test_spotify_track_plays_in_the_embed(music_page, hopper_path):
    pg = music_page
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#tracks li[data-play=spotify]")).to_have_count(1)
    pg.get_by_role("button", name="Play Embedded Song", exact=True).click()
    frame = pg.locator("#tracks li[data-play=spotify] iframe.spotify-embed")
    expect(frame).to_have_attribute("src", f"https://open.spotify.com/embed/track/{SPOTIFY_ID}")
    pg.wait_for_timeout(500)
    assert not [e for e in pg.console_errors if "Content Security Policy" in e or "Refused to frame" in e]
    pg.locator("#tracks li[data-play=audio] button.play").first.click()  # local playback closes the embed
    expect(frame).to_have_count(0)


def test_phone_first_play_button_on_the_first_screen(browser, music_server, hopper_path):
    phone = open_page(browser, music_server[0], **PHONE)
    phone.set_input_files("#file", str(hopper_path))
    expect(phone.locator("#tracks li").first).to_be_visible()
    play = phone.locator("#tracks li button.play").first  # the first track's, whatever plays it
    box = play.bounding_box()
    assert phone.evaluate("window.scrollY") == 0
    assert box["y"] + box["height"] <= 844, f"first Play button ends at {box['y'] + box['height']:.0f} px"
    assert phone.locator("#emotion-label").bounding_box()["y"] < box["y"]  # mood first, then the playlist
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.locator("#tracks li[data-play=audio] button.play").first.tap()
    phone.wait_for_function("() => !document.querySelector('#audio').paused")
    if SHOTS:
        phone.wait_for_function("() => document.querySelector('#audio').currentTime > 1.0")
        phone.screenshot(path=str(Path(SHOTS) / "screenshot-phone.png"))
    phone.context.close()


def test_camera_start_puts_a_play_button_on_the_first_phone_screen(browser, music_server):
    phone = open_page(browser, music_server[0], **PHONE)
    phone.get_by_role("button", name="Start camera").click()
    expect(phone.locator("#tracks li button.play").first).to_be_visible(timeout=90_000)
    box = phone.locator("#tracks li button.play").first.bounding_box()
    assert box["y"] + box["height"] <= 844
    phone.get_by_role("button", name="Stop camera").click()
    phone.context.close()


def test_stale_state_is_cleared(music_page, hopper_path, noface_png, tmp_path):
    pg = music_page
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#tracks li").first).to_be_visible()
    assert pg.locator("#track-points rect").count() > 0
    pg.locator("#tracks li[data-play=audio] button.play").first.click()
    pg.wait_for_function("() => !document.querySelector('#audio').paused")
    # a photo without a face replaces the face photo's results: no bars, no circle point, no playlist, no music
    pg.set_input_files("#file", str(noface_png))
    expect(pg.locator("#photo-result")).to_have_text("noface.png: 0 faces")
    expect(pg.locator("#emotion-label")).to_have_text("no face")
    assert pg.locator("#tracks li").count() == 0 and pg.locator("#track-points rect").count() == 0
    assert pg.locator("#va-dot").get_attribute("visibility") == "hidden"
    assert set(pg.locator("#bars li .pct").all_inner_texts()) == {"—"}
    assert _audio(pg)["paused"] and not pg.locator("#player").is_visible()
    # the face again, then a file the server refuses: the error replaces the results
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#tracks li").first).to_be_visible()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
    pg.set_input_files("#file", str(broken))
    expect(pg.locator("#status")).to_contain_text("Could not analyse broken.jpg")
    expect(pg.locator("#playlist-reason")).to_contain_text("Could not analyse broken.jpg")
    assert pg.locator("#tracks li").count() == 0 and pg.locator("#va-dot").get_attribute("visibility") == "hidden"
    assert pg.locator("#emotion-label").inner_text() == "—" and pg.locator("#photo-result").inner_text() == ""
    # a file that is not an image at all is refused in the page, with the same clean slate
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#tracks li").first).to_be_visible()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    pg.set_input_files("#file", str(notes))
    expect(pg.locator("#status")).to_contain_text("notes.txt is not a photo")
    assert pg.locator("#tracks li").count() == 0
    # the camera replaces a photo's result line ("noface.png: 0 faces" never stays under the live camera)
    pg.set_input_files("#file", str(noface_png))
    expect(pg.locator("#photo-result")).to_have_text("noface.png: 0 faces")
    pg.get_by_role("button", name="Start camera").click()
    expect(pg.locator("#photo-result")).to_have_text("")
    pg.get_by_role("button", name="Stop camera").click()


def test_big_photo_is_shrunk_before_upload(music_page, hopper_bgr, tmp_path):
    pg = music_page
    big = cv2.resize(hopper_bgr, (hopper_bgr.shape[1] * 8, hopper_bgr.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big.astype(np.int16) + np.random.default_rng(0).integers(-20, 20, big.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), big)
    assert path.stat().st_size > 8 * 2**20
    # record the sizes of the files the page uploads (fetch is looked up when the page calls it)
    pg.evaluate("""() => { const orig = window.fetch; window.uploads = [];
        window.fetch = (url, opts) => { if (opts && opts.body instanceof FormData)
          for (const v of opts.body.values()) if (v instanceof Blob) window.uploads.push([v.type, v.size]);
          return orig(url, opts); }; }""")
    pg.set_input_files("#file", str(path))
    expect(pg.locator("#photo-result")).to_contain_text("big.png: 1 face")
    (kind, size), = pg.evaluate("window.uploads")
    assert kind == "image/jpeg" and size < 2 * 2**20  # a JPEG of at most 1600 px went up, not the 8+ MB PNG


def test_two_browsers_two_listeners(browser, music_server, hopper_path):
    import httpx

    url = music_server[0]
    a, b = open_page(browser, url), open_page(browser, url)
    ida, idb = _listener(a), _listener(b)
    assert ida != idb and ida.startswith("listener-")
    for pg in (a, b):
        pg.set_input_files("#file", str(hopper_path))
        expect(pg.locator("#tracks li").first).to_be_visible()
    a.locator("#tracks li button.like").first.click()
    b.locator("#tracks li button.skip").nth(1).click()
    expect(a.locator("#tracks li .confirm").first).to_contain_text("Liked")
    expect(b.locator("#tracks li .confirm").nth(1)).to_contain_text("Skipped")
    ea = httpx.get(f"{url}/api/feedback", params={"user": ida}).json()["events"]
    eb = httpx.get(f"{url}/api/feedback", params={"user": idb}).json()["events"]
    assert [e["action"] for e in ea] == ["like"] and [e["action"] for e in eb] == ["skip"]
    # renaming keeps the identity (and so the history); a reload keeps both
    a.get_by_role("button", name="Rename").click()
    a.get_by_label("Listener name").fill("Ada")
    a.keyboard.press("Enter")
    expect(a.locator("#listener-name")).to_have_text("Ada")
    a.get_by_role("button", name="Rename").click()
    a.get_by_label("Listener name").fill("Bob")
    a.keyboard.press("Escape")  # cancelled: the name stays
    expect(a.locator("#rename-form")).to_be_hidden()
    expect(a.locator("#listener-name")).to_have_text("Ada")
    a.reload()
    expect(a.locator("#listener-name")).to_have_text("Ada")
    assert _listener(a) == ida and ida in a.locator("#privacy").inner_text()
    a.context.close()
    b.context.close()


def test_keyboard_only(music_page, hopper_path):
    pg = music_page
    with pg.expect_file_chooser() as chooser:
        for _ in range(30):
            pg.keyboard.press("Tab")
            if pg.evaluate("document.activeElement.textContent") == "Choose a photo":
                break
        pg.keyboard.press("Enter")
    chooser.value.set_files(str(hopper_path))
    expect(pg.locator("#tracks li").first).to_be_visible()
    title = pg.locator("#tracks li[data-play=audio] .title").first.inner_text()
    for _ in range(60):
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement.getAttribute('aria-label')") == f"Play {title}":
            break
    else:
        pytest.fail("Tab never reached the first Play button")
    pg.keyboard.press("Enter")
    pg.wait_for_function("() => !document.querySelector('#audio').paused")
    pg.keyboard.press("Shift+Tab")  # back up to the player: pause with the keyboard
    pg.locator("#playpause-btn").focus()
    pg.keyboard.press("Space")
    pg.wait_for_function("() => document.querySelector('#audio').paused")
    assert pg.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible


def test_closed_loop_sends_the_mood_over_a_track(music_page):
    """Camera on while a track plays: at its end the page sends closer/farther with summary numbers only."""
    pg = music_page
    pg.get_by_role("button", name="Start camera").click()
    expect(pg.locator("#tracks li button.play").first).to_be_visible(timeout=90_000)
    sent = []
    pg.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/api/feedback") and r.method == "POST" else None)
    pg.locator("#tracks li[data-play=audio] button.play").first.click()
    pg.wait_for_function("() => document.querySelector('#trajectory li')", timeout=60_000)
    assert any(s["action"] == "played" for s in sent)  # the track was heard to its end
    implicit = [s for s in sent if s.get("implicit") and s["action"] != "played"]
    assert implicit and implicit[0]["action"] in ("closer", "farther") and implicit[0]["user"] == _listener(pg)
    assert set(implicit[0]["affect"]) == {"valence_start", "arousal_start", "valence_end", "arousal_end", "samples"}
    assert implicit[0]["affect"]["samples"] >= 4
    assert all(isinstance(v, (int, float)) for v in implicit[0]["affect"].values())  # numbers only, no frames
    expect(pg.locator("#trajectory-box")).to_be_visible()
    assert pg.locator("#mood-path").get_attribute("d").startswith("M")
    if SHOTS:
        frames = []
        pg.set_viewport_size({"width": 1280, "height": 800})
        for _ in range(8):
            pg.wait_for_timeout(1000)
            frames.append(pg.screenshot())
        _save_gif(frames, Path(SHOTS) / "player.gif")
    pg.get_by_role("button", name="Stop camera").click()


def _save_gif(pngs: list[bytes], path: Path) -> None:
    """The screenshots at 800 px wide as an animated GIF (one second a frame): the page playing music."""
    import io

    from PIL import Image

    frames = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    frames = [f.resize((800, round(f.height * 800 / f.width)), Image.LANCZOS).quantize(colors=128, method=Image.Quantize.MEDIANCUT)
              for f in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=1000, loop=0, optimize=True)


def test_uncertain_face_says_not_sure(music_page, hopper_path, astronaut_bgr, tmp_path):
    """A face the core marks ``uncertain`` is shown as "not sure" (the response is the server's, flagged here)."""
    pg = music_page
    pg.evaluate("""() => { const orig = window.fetch; window.flagUncertain = true;
        window.fetch = async (url, opts) => { const res = await orig(url, opts);
          if (!String(url).endsWith('/api/analyze') || !window.flagUncertain) return res;
          const body = await res.json(); for (const f of body.faces) f.uncertain = true;
          return new Response(JSON.stringify(body), {status: res.status, headers: {'Content-Type': 'application/json'}}); }; }""")
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#unsure")).to_be_visible()
    expect(pg.locator("#unsure")).to_have_text("not sure")
    pg.evaluate("() => { window.flagUncertain = false; }")
    smile = tmp_path / "smile.jpg"  # a face the model is sure of (Grace Hopper's portrait is not: neutral 0.42)
    cv2.imwrite(str(smile), astronaut_bgr)
    pg.set_input_files("#file", str(smile))
    expect(pg.locator("#tracks li").first).to_be_visible()
    assert not pg.locator("#unsure").is_visible()


def test_heic_the_browser_cannot_read_is_a_clear_error(music_page, hopper_path, tmp_path):
    pg = music_page
    pg.set_input_files("#file", str(hopper_path))
    expect(pg.locator("#tracks li").first).to_be_visible()
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))  # Chromium has no HEIC decoder
    pg.set_input_files("#file", files=[{"name": heic.name, "mimeType": "image/heic", "buffer": heic.read_bytes()}])
    expect(pg.locator("#status")).to_contain_text("cannot open HEIC")
    assert pg.locator("#tracks li").count() == 0
