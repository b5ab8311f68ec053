"""`python build.py serve`: build, serve (on 127.0.0.1 unless --host says otherwise) under the
base path, rebuild on change, reload the open page.

    python build.py serve [--port 8000] [--host 127.0.0.1] [any build option]

The site is built (by the same code as `python build.py`, with the same options) into a
temporary folder unless --out is given (removed however serve ends); the build options are
checked up front, so a bad one is a usage error before anything is served; the search index
only with --search (it takes seconds, and a preview rarely needs it). A watcher polls
content/ and the template folders; a change rebuilds. Every HTML page served gets a small
script that polls `<base>/__studylog__/status` and reloads when the build number changes. When a build fails,
its `path:line: message` errors are printed in the terminal and shown on every page (over
the last good build, which stays served); the server keeps running.

Only files inside the output folder are served: paths are decoded once, and any `..`, `.`,
backslash or NUL segment is refused before the path is joined; the joined path must still
resolve inside the folder.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import html
import io
import json
import mimetypes
import os
import shutil
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

STATUS = "__studylog__/status"
POLL_SECONDS = 0.4

RELOAD_SCRIPT = """<script>/* studylog serve: live reload */
(function () {
  var url = %(status)s, seen = %(version)d;
  function poll() {
    fetch(url, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.version !== seen) { location.reload(); return; }
      setTimeout(poll, 500);
    }).catch(function () { setTimeout(poll, 1500); });
  }
  setTimeout(poll, 500);
})();
</script>"""

ERROR_BOX = """<div id="studylog-build-error" role="alert" style="position:fixed;z-index:2147483647;left:0;right:0;top:0;max-height:60vh;overflow:auto;margin:0;padding:1rem 1.2rem;background:#3b0d0c;color:#ffdad6;font:14px/1.5 ui-monospace,monospace;box-shadow:0 2px 8px rgba(0,0,0,.4)">
<strong style="font-size:15px">ビルドに失敗しました（build failed）: 修正して保存すると自動で再ビルドされます。表示中のページは前回成功したビルドです。</strong>
<pre style="white-space:pre-wrap;margin:.6rem 0 0;background:none;color:inherit">%s</pre></div>"""


class State:
    """The latest build, shared by the builder thread and the request handlers."""

    def __init__(self, out: Path, prefix: str):
        self.out, self.prefix = out, prefix
        self.version = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def update(self, errors: list[str]) -> None:
        with self.lock:
            self.errors = errors
            self.version += 1


def build_once(argv: list[str], setup) -> tuple[int, list[str], str]:
    """Run the normal build command in this process -> (exit code, error lines, output)."""
    from .cli import main
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv, setup)
        except SystemExit as e:          # argparse
            code = e.code if isinstance(e.code, int) else 2
        except Exception:                # a bug must not stop the server
            import traceback
            traceback.print_exc()
            code = 1
    lines = [l for l in err.getvalue().splitlines() if l.strip()]
    return code, lines, out.getvalue() + err.getvalue()


def snapshot(roots: list[Path]) -> dict[str, tuple[int, int]]:
    files = {}
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith(".") or name.endswith(("~", ".swp", ".swx")):
                    continue
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                files[p] = (st.st_mtime_ns, st.st_size)
    return files


def safe_path(root: Path, url_path: str, prefix: str) -> Path | None:
    """The file under `root` for a request path, or None (outside the base path, or an
    attempt to leave the folder)."""
    if not url_path.startswith(prefix):
        return None
    rel = unquote(url_path[len(prefix):], errors="strict") if "%" in url_path else url_path[len(prefix):]
    if "\\" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if any(p in (".", "..") for p in parts):
        return None
    target = root.joinpath(*[p for p in parts if p])
    try:
        real = target.resolve()
        if not real.is_relative_to(root.resolve()):
            return None
    except (OSError, ValueError):
        return None
    return target


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        server_version = "studylog-serve"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):   # quiet: only failures
            pass

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head=False):
            path = urlsplit(self.path).path
            prefix = state.prefix
            if path == prefix + STATUS:
                with state.lock:
                    body = json.dumps({"version": state.version, "errors": state.errors}).encode()
                return self._send(200, "application/json", body, head)
            if not path.startswith(prefix):
                if path in ("/", prefix.rstrip("/")):
                    return self._redirect(prefix)
                return self._not_found(head)
            try:
                target = safe_path(state.out, path, prefix)
            except UnicodeDecodeError:
                target = None
            if target is None:
                return self._send(403, "text/plain; charset=utf-8", b"forbidden\n", head)
            if target.is_dir():
                if not path.endswith("/"):
                    query = urlsplit(self.path).query
                    return self._redirect(path + "/" + ("?" + query if query else ""))
                target = target / "index.html"
            if not target.is_file():
                return self._not_found(head)
            self._file(200, target, head)

        def _not_found(self, head):
            page = state.out / "404.html"
            if page.is_file():
                return self._file(404, page, head)
            return self._send(404, "text/html; charset=utf-8",
                              self._inject(b"<!doctype html><title>404</title><h1>404 Not Found</h1>"), head)

        def _file(self, code, target: Path, head):
            try:
                data = target.read_bytes()
            except OSError:
                return self._send(404, "text/plain; charset=utf-8", b"not found\n", head)
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if ctype == "text/html":
                data = self._inject(data)
            if ctype.startswith("text/") or ctype in ("application/javascript", "application/json", "application/xml"):
                ctype += "; charset=utf-8"
            self._send(code, ctype, data, head)

        def _inject(self, data: bytes) -> bytes:
            with state.lock:
                version, errors = state.version, list(state.errors)
            extra = RELOAD_SCRIPT % {"status": json.dumps(state.prefix + STATUS), "version": version}
            if errors:
                extra = ERROR_BOX % html.escape("\n".join(errors)) + extra
            text = data.decode("utf-8", "replace")
            i = text.lower().rfind("</body>")
            text = text[:i] + extra + text[i:] if i >= 0 else text + extra
            return text.encode()

        def _redirect(self, location):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, code, ctype, body: bytes, head=False):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


def port_arg(text: str) -> int:
    """argparse type of --port: bind() would raise OverflowError outside 0-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0 = any free port), not {port}")
    return port


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py serve", add_help=False,
                                description="Build, serve (on 127.0.0.1 unless --host says otherwise), "
                                            "rebuild on change, reload the page. "
                                            "Other options are passed to the build (see build.py --help).")
    p.add_argument("--port", type=port_arg, default=8000, help="port (default 8000; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: loopback only)")
    p.add_argument("--out", type=Path, help="output folder (default: a temporary folder)")
    p.add_argument("--content", type=Path, default=Path("content"), help="content folder (default: content)")
    p.add_argument("--search", action="store_true",
                   help="also build the Pagefind index on every rebuild (slower; off by default)")
    p.add_argument("-h", "--help", action="help")
    return p


def build_options(content: Path, rest: list[str]) -> argparse.Namespace:
    """The pass-through build options, checked by the build's own parser before anything is
    served (a typo must not leave a server up with nothing built); exits 2 on a bad one."""
    from .cli import parser as build_parser
    p = build_parser()
    p.prog = "build.py serve"
    p.usage = "%(prog)s [--port N] [--host ADDR] [--out DIR] [--search] [build options (build.py --help)]"
    return p.parse_args(["--content", str(content), *rest])


def main(argv: list[str], setup=()) -> int:
    gc.enable()    # build.py turns it off for a one-shot build; a server rebuilds for hours
    args, rest = parser().parse_known_args(argv)
    content = args.content
    if not content.is_dir():
        print(f"build.py serve: error: content folder not found: {content}", file=sys.stderr)
        return 2
    options = build_options(content, rest)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # so that the finally below runs
    tmp = None
    try:
        if args.out is None:
            tmp = Path(tempfile.mkdtemp(prefix="studylog-serve-"))
            args.out = tmp / "site"
        return _serve(args, options.base_url, rest, setup)
    except KeyboardInterrupt:
        print("stopped")
        return 0
    finally:                      # every way out, a failed start included, removes the temp folder
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _serve(args: argparse.Namespace, base_url: str | None, rest: list[str], setup) -> int:
    """Build, listen, then rebuild on every change until interrupted."""
    from .cli import EXIT_USAGE
    from .errors import ContentError
    from .render import DEFAULT_TEMPLATES
    content = args.content
    build_argv = ["--content", str(content), *rest, "--out", str(args.out)]
    if not args.search and "--no-search" not in build_argv:
        build_argv.append("--no-search")
    try:
        prefix = _prefix(content, base_url)
    except ContentError:
        prefix = "/"

    state = State(args.out.absolute(), prefix)
    roots = [content, DEFAULT_TEMPLATES]
    before = snapshot(roots)        # taken first: an edit made while the first build runs is rebuilt
    code, errors, output = build_once(build_argv, setup)
    if code == EXIT_USAGE:        # e.g. --jobs 0: no edit of the content can fix it
        print("\n".join(errors), file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(output)
    state.update(errors if code else [])
    try:
        server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    except OSError as e:
        print(f"build.py serve: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    server.daemon_threads = True
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {args.out} at http://{shown}:{port}{prefix}  (Ctrl-C to stop)", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    try:
        while True:
            time.sleep(POLL_SECONDS)
            now = snapshot(roots)
            if now == before:
                continue
            time.sleep(0.15)                      # let an editor finish writing
            now = snapshot(roots)
            before = now
            try:
                prefix = _prefix(content, base_url)
            except ContentError:
                pass
            state.prefix = prefix
            t0 = time.perf_counter()
            code, errors, output = build_once(build_argv, setup)
            if code == 0:
                for line in errors:               # a good build's warnings (not training's progress bars)
                    if line.startswith("warning:"):
                        print(line, flush=True)
                print(f"rebuilt in {time.perf_counter() - t0:.2f}s", flush=True)
            else:
                sys.stdout.write(output)
                print("build failed; still serving the last good build", flush=True)
            state.update(errors if code else [])
    finally:
        server.shutdown()
        server.server_close()


def _prefix(content: Path, base_url: str | None) -> str:
    """The base path the built site expects (site.toml, or --base-url)."""
    from .config import load_config
    from .urls import Urls
    return Urls(load_config(content, base_url).base_url).prefix
