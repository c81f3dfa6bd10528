"""The test site's hostile pages: hangs, dialog loops, popup storms, sticky unload handlers."""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[[], tuple[int, dict[str, str], bytes]]


def _html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{body}</body></html>"
    ).encode()


HUGE_ROWS = 150_000


def hostile_pages(trap_port: int) -> dict[str, Handler]:
    """Pages that fight back: hangs, dialog loops, popup storms, sticky unload handlers."""
    html = {"Content-Type": "text/html; charset=utf-8"}

    def page(title: str, body: str) -> Handler:
        return lambda: (200, html, _html(title, body))

    return {
        "/hang-inline": page("Hang", "<p>Before the loop.</p><script>while (true) {}</script>"),
        "/hang-timer": page(
            "Hang later",
            "<p>Timer page.</p><script>addEventListener('load', () => "
            "setTimeout(() => { while (true) {} }, 20));</script>",
        ),
        "/hang-onload": page(
            "Hang on load",
            "<p>Load page.</p><script>addEventListener('load', () => { while (true) {} });"
            "</script>",
        ),
        "/hang-domready": page(
            "Hang when ready",
            "<p>Ready page.</p><script>addEventListener('DOMContentLoaded', () => "
            "{ while (true) {} });</script>",
        ),
        "/hang-microtask": page(
            "Hang in a promise",
            "<p>Promise page.</p><script>addEventListener('load', () => "
            "{ const spin = () => Promise.resolve().then(spin); setTimeout(spin, 20); });"
            "</script>",
        ),
        "/alert-loop": page(
            "Alerts", "<p>Alert page.</p><script>while (true) alert('again');</script>"
        ),
        "/alert-timer": page(
            "Timed alerts",
            "<p>Timed alerts.</p><script>setInterval(() => alert('tick'), 1);</script>",
        ),
        "/confirm-prompt": page(
            "Questions",
            "<p id='answer'>unanswered</p><script>const c = confirm('Sure?');"
            "const p = prompt('Name?', 'x');"
            "document.getElementById('answer').textContent = `confirm=${c} prompt=${p}`;"
            "</script>",
        ),
        "/beforeunload-ask": page(
            "Ask",
            "<p>Asking page.</p><script>addEventListener('beforeunload', (e) => "
            "{ e.preventDefault(); e.returnValue = 'stay'; });</script>",
        ),
        "/beforeunload-hang": page(
            "Sticky",
            "<p>Sticky page.</p><script>onbeforeunload = () => { while (true) {} };</script>",
        ),
        "/pagehide-hang": page(
            "Sticky hide",
            "<p>Hide page.</p><script>addEventListener('pagehide', () => { while (true) {} });"
            "</script>",
        ),
        "/popup-storm": page(
            "Storm",
            "<p>Storm page.</p><script>for (let i = 0; i < 50; i++) window.open('/target-a?' + i);"
            "</script>",
        ),
        "/popup-click-storm": page(
            "Click storm",
            "<p>Click storm page.</p><a id='x' href='/target-b' target='_blank'>b</a><script>"
            "for (let i = 0; i < 20; i++) document.getElementById('x').click();</script>",
        ),
        "/huge-dom": page(
            "Huge",
            "<p>Huge page.</p><script>const rows = [];"
            f"for (let i = 0; i < {HUGE_ROWS}; i++) rows.push('<p>row ' + i + '</p>');"
            "document.body.insertAdjacentHTML('beforeend', rows.join(''));</script>",
        ),
        "/bait": page(
            "Formulaire",
            "<p lang='fr'>Bonjour, veuillez saisir votre adresse et votre mot de passe.</p>"
            "<form action='/login'><input name='email' type='email' autocomplete='email'>"
            "<input name='address' autocomplete='street-address'>"
            "<input name='card' autocomplete='cc-number'>"
            "<input name='password' type='password'></form>",
        ),
        "/redirect-refused": lambda: (302, {"Location": f"http://127.0.0.1:{trap_port}/"}, b""),
        "/redirect-same-host": lambda: (302, {"Location": f"http://localhost:{trap_port}/"}, b""),
    }
