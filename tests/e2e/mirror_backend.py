#!/usr/bin/env python3
"""The mirror tests' backend: HTTP/1.1 with keep-alive, pipelining and
chunked request bodies, answering JSON, and recording the exact bytes of
every request it gets (one JSON line per request: {"conn", "raw"
(base64)}) so that a test can compare what a replay sent with what the
client sent. Told at start how to differ from another version:

    mirror_backend.py --listen 127.0.0.1:9001 --version 1.0 --log FILE
        [--bigger PREFIX]   bodies of paths under PREFIX 400 bytes larger
        [--fail-every N]    every Nth request answered 500
        [--delay-ms MS]     each response that much later
        [--timestamp]       a "ts" field with the time of the response
        [--hang]            read requests, never answer

The version is only in a header (X-Version), which the mirror does not
compare by default: identical versions answer identical bodies."""
import argparse
import base64
import json
import socket
import threading
import time

ARGS = None
LOCK = threading.Lock()
COUNT = [0]


def record(log, conn, raw):
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
        with open(log, "a") as f:
            f.write(json.dumps({"conn": conn, "raw": base64.b64encode(raw).decode()}) + "\n")
    return n


def read_request(buf):
    """(bytes of one whole request, method, path) from the start of buf, or
    None if more bytes are needed."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    method, path, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    pos = end + 4
    if headers.get("transfer-encoding", "").lower().endswith("chunked"):
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", pos - 2)
                if trailer_end < 0:
                    return None
                pos = trailer_end + 4
                break
            if len(buf) < pos + size + 2:
                return None
            pos += size + 2
    else:
        n = int(headers.get("content-length", "0"))
        if len(buf) < pos + n:
            return None
        pos += n
    return buf[:pos], method, path


def body_for(method, path, n):
    doc = {"path": path, "method": method,
           "items": [{"id": i, "name": "item %d" % i} for i in range(5)]}
    if ARGS.bigger and path.startswith(ARGS.bigger):
        doc["extra"] = "x" * 400
    if ARGS.timestamp:
        doc["ts"] = time.time_ns()
    status = 500 if ARGS.fail_every and n % ARGS.fail_every == 0 else 200
    return status, json.dumps(doc, sort_keys=True).encode()


def serve(conn, cid):
    buf = b""
    try:
        while True:
            got = read_request(buf)
            if got is None:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                continue
            raw, method, path = got
            buf = buf[len(raw):]
            n = record(ARGS.log, cid, raw)
            if ARGS.hang:
                continue
            if ARGS.delay_ms:
                time.sleep(ARGS.delay_ms / 1000)
            status, body = body_for(method, path, n)
            head = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nX-Version: %s\r\n"
                    "Content-Length: %d\r\n\r\n" % (status, "OK" if status == 200 else "Error",
                                                   ARGS.version, len(body))).encode()
            conn.sendall(head + (b"" if method == "HEAD" else body))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--bigger")
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--timestamp", action="store_true")
    p.add_argument("--hang", action="store_true")
    ARGS = p.parse_args()
    host, port = ARGS.listen.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(512)
    print("listening", flush=True)
    cid = 0
    while True:
        c, _ = s.accept()
        cid += 1
        threading.Thread(target=serve, args=(c, cid), daemon=True).start()


if __name__ == "__main__":
    main()
