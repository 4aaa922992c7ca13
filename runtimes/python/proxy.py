"""The python:3 runtime proxy of swirl: serves /init and /run on PORT (default 8080).

Standard library only. The action is loaded into this process as a module (source text,
or a zip with __main__.py and optionally a virtualenv/ directory) and its entry function
is called once per /run. Runs are serialized: the activation's __OW_* variables live in
this process's environment. When the invoker asks for it (header x-swirl-logs: the log
limit in bytes), what the action prints goes back with the answer (common/container.ts
INLINE_LOGS); otherwise stdout and stderr carry only what the action prints and the log
sentinel after each activation.
"""

import base64
import binascii
import datetime
import glob
import hashlib
import hmac
import io
import json
import os
import signal
import site
import socketserver
import sys
import tempfile
import threading
import time
import traceback
import types
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

INIT_TWICE = "Cannot initialize the action more than once."
NOT_INITIALIZED = "Cannot invoke an uninitialized action."
NOT_A_DICTIONARY = "The action did not return a dictionary."
BAD_REQUEST = "The request body is not a JSON object."
NOT_FOUND = "Not found: the proxy serves POST /init and POST /run."
FORBIDDEN = "Forbidden: this container answers only the invoker that started it."

# the container's secret (common/container.ts PROXY_TOKEN_ENV): with it, /init and /run answer
# only the invoker that started the container. Taken out of the environment before any action loads.
_TOKEN = os.environ.pop("__SWIRL_PROXY_TOKEN", None)
TOKEN_DIGEST = hashlib.sha256(_TOKEN.encode("utf-8")).digest() if _TOKEN else None
del _TOKEN


def admits(authorization):
    if TOKEN_DIGEST is None:
        return True
    if not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(hashlib.sha256(authorization[7:].strip().encode("utf-8")).digest(), TOKEN_DIGEST)


class InitFailure(Exception):
    """The action cannot be loaded; the message is the reason."""


class LineTracker:
    """Wraps sys.stdout / sys.stderr to know whether the last write ended a line."""

    def __init__(self, stream):
        self._stream = stream
        self.at_line_start = True

    def write(self, text):
        n = self._stream.write(text)
        if text:
            self.at_line_start = text.endswith("\n")
        return n

    def __getattr__(self, name):
        return getattr(self._stream, name)


LOGS_REQUEST = "x-swirl-logs"
LOGS_LENGTH = "x-swirl-logs-length"
LOGS_TRUNCATED = "x-swirl-logs-truncated"


def now_iso():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Capture:
    """One activation's output within its log limit, as the JS runtimes keep it
    (runtimes/common/output.ts): lines stamped when they end, text bytes counted against the
    limit; once a line does not fit nothing more is kept; a line longer than the limit is
    only counted."""

    def __init__(self, limit):
        self.limit = limit
        self.lines = []
        self.bytes = 0
        self.encoded = 2
        self.truncated = False
        self.flushed = False
        self.partial = {"stdout": [], "stderr": []}
        self.size = {"stdout": 0, "stderr": 0}
        self.dropped = {"stdout": False, "stderr": False}
        self.lock = threading.Lock()

    def write(self, stream, text):
        with self.lock:
            parts = text.split("\n")
            for i, part in enumerate(parts):
                self.append(stream, part)
                if i < len(parts) - 1:
                    self.end_line(stream)

    def append(self, stream, part):
        if not part or self.dropped[stream]:
            if part:
                self.size[stream] += len(part)
            return
        if self.size[stream] + len(part) > self.limit:
            self.dropped[stream] = True
            self.partial[stream] = []
        else:
            self.partial[stream].append(part)
        self.size[stream] += len(part)

    def end_line(self, stream):
        chunks, dropped = self.partial[stream], self.dropped[stream]
        self.partial[stream], self.size[stream], self.dropped[stream] = [], 0, False
        if self.truncated:
            return
        if dropped:
            self.truncated = True
            return
        text = "".join(chunks)
        if text.endswith("\r"):
            text = text[:-1]
        size = len(text.encode("utf-8", "backslashreplace"))
        line = "%s %s: %s" % (now_iso(), stream, text)
        encoded = len(json.dumps(line, ensure_ascii=False).encode("utf-8", "backslashreplace")) + 1
        if self.bytes + size > self.limit or self.encoded + encoded > 2 * self.limit + 16 * 1024 * 1024:
            self.truncated = True
            return
        self.bytes += size
        self.encoded += encoded
        self.lines.append(line)

    def take(self):
        with self.lock:
            for stream in ("stdout", "stderr"):
                if self.size[stream] or self.partial[stream]:
                    self.end_line(stream)
            return self.lines, self.truncated

    def flush(self):
        """Its deadline passed: write what is kept to the streams, marked, and let the
        action write there from now on (the invoker reads the streams then)."""
        with self.lock:
            if self.flushed:
                return
            self.flushed = True
            out = {"stdout": "", "stderr": ""}
            for line in self.lines:
                out[line[25:31]] += line[33:] + "\n"
            for stream in ("stdout", "stderr"):
                if self.partial[stream]:
                    out[stream] += "".join(self.partial[stream]) + "\n"
                self.partial[stream], self.size[stream] = [], 0
                out[stream] += SENTINEL + "\n"
            self.lines = []
        for stream in ("stdout", "stderr"):
            STREAMS[stream].write(out[stream])
            STREAMS[stream].flush()


# the activation running now (runs are serialized), and output written outside any once the
# invoker asks for logs with answers: it goes with the next answer
CURRENT = None
AMBIENT = None
# the process's own streams (LineTracker), under what sys.stdout and sys.stderr capture
STREAMS = {}


class CapturingStream:
    """sys.stdout / sys.stderr: into the activation's Capture when there is one, else through."""

    def __init__(self, name, stream):
        self._name = name
        self._stream = stream

    def write(self, text):
        into = CURRENT or AMBIENT
        if into is not None and not into.flushed:
            into.write(self._name, text)
            return len(text)
        return self._stream.write(text)

    def flush(self):
        if (CURRENT or AMBIENT) is None:
            self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def log_limit(header):
    return int(header) if header and header.isdigit() and len(header) <= 10 else None


def describe(e):
    return "%s: %s" % (type(e).__name__, e)


def print_action_traceback(e):
    """The traceback of the action's exception, without the proxy's own frames."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb)


def env_value(v):
    return v if isinstance(v, str) else json.dumps(v)


class Action:
    """The loaded action and the state of the proxy."""

    def __init__(self):
        self.state = "empty"
        self.main = None
        self.lock = threading.Lock()

    def init(self, value):
        for k, v in (value.get("env") or {}).items():
            if v is not None:
                os.environ[k] = env_value(v)
        main = value.get("main") or "main"
        code = value.get("code") or ""
        directory = tempfile.mkdtemp(prefix="action-")
        if value.get("binary"):
            path = self.unzip(code, directory)
        else:
            path = os.path.join(directory, "main__.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(code)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        module = types.ModuleType("main__")
        module.__file__ = path
        sys.modules["main__"] = module
        exec(compile(source, path, "exec"), module.__dict__)
        fn = getattr(module, main, None)
        if not callable(fn):
            raise InitFailure("Action entrypoint '%s' is not a function." % main)
        self.main = fn

    @staticmethod
    def unzip(code, directory):
        try:
            archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(code)))
        except (binascii.Error, zipfile.BadZipFile, ValueError) as e:
            raise InitFailure("the action archive is not a valid zip file (%s)" % e)
        root = os.path.realpath(directory)
        for name in archive.namelist():
            target = os.path.realpath(os.path.join(root, name))
            if target != root and not target.startswith(root + os.sep):
                raise InitFailure("the action archive has an entry outside its root: %s" % name)
        archive.extractall(root)
        path = os.path.join(root, "__main__.py")
        if not os.path.isfile(path):
            raise InitFailure("Zip file does not include __main__.py")
        sys.path.insert(0, root)
        os.chdir(root)  # the action's files by relative path, as in the nodejs runtime
        # a virtualenv packed with the action: its site-packages (and .pth files) come after the action's own files
        for packages in glob.glob(os.path.join(root, "virtualenv", "lib", "python3*", "site-packages")):
            site.addsitedir(packages)
        return path

    def run(self, msg):
        os.environ.pop("__OW_API_KEY", None)
        for k, v in msg.items():
            if k != "value" and v is not None:
                os.environ["__OW_" + k.upper()] = env_value(v)
        params = msg.get("value")
        result = self.main(params if params is not None else {})
        if not isinstance(result, dict):
            return 502, {"error": NOT_A_DICTIONARY}
        return 200, json.dumps(result, ensure_ascii=False, allow_nan=False)


ACTION = Action()


def end_activation():
    """The sentinel on a line of its own on both streams, flushed before the response."""
    for stream in (STREAMS["stdout"], STREAMS["stderr"]):
        stream.write(("" if stream.at_line_start else "\n") + SENTINEL + "\n")
        stream.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the invoker reuses its connection

    def log_message(self, *args):  # the proxy logs nothing: stderr is the action's
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.path in ("/init", "/run") and not admits(self.headers.get("Authorization")):
            # refused before anything is read or written: a stranger's request is no activation and leaves no log marker
            self.rfile.read(length)
            self.send(403, {"error": FORBIDDEN})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        limit = log_limit(self.headers.get(LOGS_REQUEST))
        logs = None
        if self.path in ("/init", "/run") and limit is not None:
            with ACTION.lock:
                status, reply, logs = self.captured(limit, body)
        elif self.path in ("/init", "/run"):
            # one request at a time, its end-of-activation marker included: no output of the next precedes it
            with ACTION.lock:
                status, reply = self.init(body) if self.path == "/init" else self.run(body)
                if self.path == "/run" or status != 200:
                    end_activation()
        else:
            status, reply = 404, {"error": NOT_FOUND}
        self.send(status, reply, logs)

    def captured(self, limit, body):
        """The init or run with its output kept for the answer, and what was written outside any activation."""
        global CURRENT, AMBIENT
        capture = Capture(limit)
        AMBIENT = AMBIENT or Capture(limit)
        timer = None
        deadline = None
        if isinstance(body, dict) and self.path == "/run":
            deadline = body.get("deadline")
        elif isinstance(body, dict) and isinstance(body.get("value"), dict) and isinstance(body["value"].get("env"), dict):
            deadline = body["value"]["env"].get("__OW_DEADLINE")  # the first activation's, given to /init
        if isinstance(deadline, (str, int, float)) and str(deadline).isdigit():
            # past its deadline the invoker stops waiting for the answer and reads the streams instead
            timer = threading.Timer(max(0.0, int(deadline) / 1000.0 - time.time()), capture.flush)
            timer.daemon = True
            timer.start()
        CURRENT = capture
        try:
            status, reply = self.init(body) if self.path == "/init" else self.run(body)
        finally:
            CURRENT = None
            if timer is not None:
                timer.cancel()
        earlier, AMBIENT = AMBIENT, Capture(limit)
        before, before_truncated = earlier.take()
        lines, truncated = capture.take()
        if before:
            lines = sorted(before + lines, key=lambda line: line[:24])
        return status, reply, (lines, truncated or before_truncated)

    def do_GET(self):
        self.send(404, {"error": NOT_FOUND})

    @staticmethod
    def guarded(state, refusal, body, handle):
        """Refuse (403) unless the proxy is in `state`, then a body that is no JSON object (400)."""
        if ACTION.state != state:
            return 403, {"error": refusal}
        if not isinstance(body, dict):
            return 400, {"error": BAD_REQUEST}
        return handle(body)

    def init(self, body):
        return self.guarded("empty", INIT_TWICE, body, self.load)

    def run(self, body):
        return self.guarded("ready", NOT_INITIALIZED, body, self.call)

    @staticmethod
    def load(body):
        value = body.get("value")
        try:
            ACTION.init(value if isinstance(value, dict) else {})
            ACTION.state = "ready"
            return 200, {"ok": True}
        except InitFailure as e:
            ACTION.state = "failed"
            return 502, {"error": "Initialization has failed due to: %s" % e}
        except BaseException as e:  # the action's code failed to load: its traceback goes to its logs
            ACTION.state = "failed"
            print_action_traceback(e)
            return 502, {"error": "Initialization has failed due to: %s" % describe(e)}

    @staticmethod
    def call(body):
        try:
            return ACTION.run(body)
        except BaseException as e:
            print_action_traceback(e)
            return 502, {"error": "An error has occurred: %s" % describe(e)}

    def send(self, status, reply, logs=None):
        payload = (reply if isinstance(reply, str) else json.dumps(reply)).encode("utf-8")
        lines = b""
        if logs is not None:
            lines = json.dumps(logs[0], ensure_ascii=False).encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(lines) + len(payload)))
        if logs is not None:
            self.send_header(LOGS_LENGTH, str(len(lines)))
            if logs[1]:
                self.send_header(LOGS_TRUNCATED, "1")
        self.end_headers()
        self.wfile.write(lines + payload)


def stop(*_):
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer's own looks the address up (socket.getfqdn) for a name nothing here uses:
        # a reverse DNS query at every start, seconds where no resolver answers (a sandbox)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    # as a container's PID 1 the proxy gets no default signal handling: stop at once when asked
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # line-buffered, so each log line leaves when printed (the invoker timestamps lines as they arrive)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        stream.reconfigure(line_buffering=True, errors="backslashreplace")
        STREAMS[name] = LineTracker(stream)
        setattr(sys, name, CapturingStream(name, STREAMS[name]))
    ready_fd = os.environ.pop("__SWIRL_PROXY_READY_FD", "")
    server = Server((os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))), Handler)
    say_ready(ready_fd)
    server.serve_forever()


def say_ready(fd):
    """Tell the invoker the proxy listens (__SWIRL_PROXY_READY_FD: it need not poll the port), and close the fd: no action inherits it."""
    if not fd.isdigit() or int(fd) <= 2:
        return
    try:
        os.write(int(fd), b"ready\n")
    except OSError:
        pass  # the invoker polls the port as well
    finally:
        try:
            os.close(int(fd))
        except OSError:
            pass


if __name__ == "__main__":
    main()
