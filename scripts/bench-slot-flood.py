#!/usr/bin/env python3
"""Slot flood: genuine signed Stripe deliveries while hostile sockets hold (and keep re-taking) connection slots.

Starts the release daemon on loopback with its default http.max_connections, opens HOSTILE sockets that never
complete a request (a third connect and send nothing, a third send a blank line every TRICKLE seconds, a third send a
partial request head and then one more header byte every TRICKLE seconds). A hostile socket the daemon closes is
reopened at once, as an attacker would. Then GENUINE unique, validly signed Stripe deliveries are sent, each on a new
connection, CONCURRENCY at a time, and the script prints how many got 200 and the latency percentiles (from connect
to the complete answer).

Usage: bench-slot-flood.py BIN_DIR WORK_DIR PORT [HOSTILE] [GENUINE] [CONCURRENCY]  (the admin listener on PORT+1)
Run by scripts/bench.sh (make bench); see docs/benchmarks.md.
"""
import hashlib
import hmac
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

bin_dir, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
hostile_count = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
genuine_count = int(sys.argv[5]) if len(sys.argv) > 5 else 200
concurrency = int(sys.argv[6]) if len(sys.argv) > 6 else 10
TRICKLE = 2.0
secret = "whsec_flood_" + uuid.uuid4().hex[:12]

# One descriptor per hostile socket; the daemon raises its own limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
os.makedirs(work, exist_ok=True)
for suffix in ("", "-wal", "-shm"):
    try:
        os.remove(f"{work}/flood.db{suffix}")
    except FileNotFoundError:
        pass
log = open(f"{work}/serve-flood.log", "w")
env = dict(os.environ, HOOKYARD_LISTEN=f"127.0.0.1:{port}", HOOKYARD_DATABASE=f"{work}/flood.db",
           STRIPE_WEBHOOK_SECRET=secret, HOOKYARD_ADMIN_LISTEN=f"127.0.0.1:{port + 1}")
daemon = subprocess.Popen([f"{bin_dir}/hookyard", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
for _ in range(200):
    with open(f"{work}/serve-flood.log") as f:
        if '"listening"' in f.read():
            break
    time.sleep(0.05)
else:
    daemon.kill()
    sys.exit("the daemon did not start; see " + f"{work}/serve-flood.log")

# ---- hostile sockets (one thread, non-blocking) ----
stop = threading.Event()
reopened = [0]
open_now = [0]


def hostile_open(kind):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return {"sock": s, "kind": kind, "next": time.monotonic() + TRICKLE, "started": False}


def hostile_loop():
    selector = selectors.DefaultSelector()
    kinds = ["idle", "blank", "partial"]
    conns = []
    for index in range(hostile_count):
        conn = hostile_open(kinds[index % 3])
        selector.register(conn["sock"], selectors.EVENT_READ, conn)
        conns.append(conn)
    while not stop.is_set():
        now = time.monotonic()
        for conn in conns:
            if now < conn["next"]:
                continue
            conn["next"] = now + TRICKLE
            try:
                if conn["kind"] == "blank":
                    conn["sock"].send(b"\r\n")
                elif conn["kind"] == "partial":
                    conn["sock"].send(b"X" if conn["started"] else b"POST /webhooks/stripe HTTP/1.1\r\nHost: a\r\nX-Slow: ")
                    conn["started"] = True
            except (BlockingIOError, OSError):
                pass
        for key, _ in selector.select(timeout=0.05):
            conn = key.data
            try:
                data = conn["sock"].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # a 408 or 503 before the close
            selector.unregister(conn["sock"])
            conn["sock"].close()
            fresh = hostile_open(conn["kind"])
            conn.update(fresh)
            selector.register(conn["sock"], selectors.EVENT_READ, conn)
            reopened[0] += 1
        open_now[0] = len(conns)
    for conn in conns:
        conn["sock"].close()


hostile = threading.Thread(target=hostile_loop, daemon=True)
hostile.start()
time.sleep(3)  # every hostile socket connected and accepted (or refused) before the deliveries start


def daemon_connections():
    """Established TCP connections to the daemon's port, counted from the daemon's side (/proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


held_before = daemon_connections()

# ---- genuine deliveries ----
timestamp = int(time.time())
run = uuid.uuid4().hex[:8]


def delivery(index):
    body = json.dumps({
        "id": f"evt_flood_{run}_{index}", "object": "event", "api_version": "2024-06-20", "created": timestamp,
        "livemode": False, "type": "checkout.session.completed",
        "data": {"object": {"id": f"cs_test_{run}{index}", "object": "checkout.session", "amount_total": 4900,
                            "currency": "usd", "customer": f"cus_{run}{index}",
                            "customer_details": {"email": f"flood{index}@example.com", "name": f"Flood {index}"},
                            "metadata": {"hookyard_email": f"flood{index}@example.com"}, "mode": "payment",
                            "payment_status": "paid", "status": "complete"}}}, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    head = (f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Stripe-Signature: t={timestamp},v1={mac}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def send_genuine(index):
    request = delivery(index)
    started = time.monotonic()
    status = "error"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            answer = b""
            while b"\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            if answer.startswith(b"HTTP/1.1 "):
                status = answer[9:12].decode()
    except OSError as error:
        status = type(error).__name__
    return status, time.monotonic() - started


with ThreadPoolExecutor(max_workers=concurrency) as pool:
    results = list(pool.map(send_genuine, range(genuine_count)))
held_after = daemon_connections()


def evicted_total():
    """hookyard_http_connections_evicted_total{listener="public"} from /metrics on the admin listener."""
    try:
        with socket.create_connection(("127.0.0.1", port + 1), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            text = b""
            while chunk := s.recv(65536):
                text += chunk
        for line in text.decode().splitlines():
            if line.startswith('hookyard_http_connections_evicted_total{listener="public"}'):
                return line.split()[-1]
        return "0"
    except OSError as error:
        return type(error).__name__


evicted = evicted_total()
stop.set()
hostile.join()
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=30)

latencies = sorted(latency for _, latency in results)
statuses = {}
for status, _ in results:
    statuses[status] = statuses.get(status, 0) + 1


def percentile(p):
    return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000


print(f"SLOTFLOOD hostile={hostile_count} daemon_held_before={held_before} daemon_held_after={held_after} "
      f"hostile_reopened={reopened[0]} genuine={genuine_count} concurrency={concurrency} ok_200={statuses.get('200', 0)} "
      f"p50_ms={percentile(50):.1f} p99_ms={percentile(99):.1f} max_ms={latencies[-1] * 1000:.1f} "
      f"statuses={json.dumps(statuses, sort_keys=True)} evicted_by_daemon={evicted}")
