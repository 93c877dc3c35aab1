#!/usr/bin/env python3
"""Fault test for the webhook outbox: nothing is lost when the delivering process dies.

1. Starts a receiver on 127.0.0.1 that records every webhook-id (answers 200).
2. Creates a tenant and an endpoint with the `tiller` CLI, starts `tiller serve` with the
   delivery worker off, and enqueues N `message.send` events (agent messages).
3. Restarts the server with the worker on and kills it with SIGKILL three times while it
   delivers, restarting it each time.
4. Waits until every event id stored in the database has reached the receiver, then
   reports losses (must be 0) and duplicates (allowed: delivery is at-least-once).

Targets 127.0.0.1 only; bounded in count and time; exits non-zero on any loss.
Usage: scripts/webhook_fault.py [--events 20000] [--tiller target/release/tiller]
"""
import argparse, hashlib, hmac, http.client, http.server, json, os, signal, socket, sqlite3
import subprocess, sys, tempfile, threading, time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.ids = Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer.lock:
                    outer.ids[self.headers.get("webhook-id")] += 1
                try:
                    self.send_response(200)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender was killed mid-request: exactly what this test does

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def unique(self):
        with self.lock:
            return len(self.ids)


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def serve(tiller, port, db_url, env, worker):
    env = dict(env, TILLER_WEBHOOKS__WORKER="true" if worker else "false")
    proc = subprocess.Popen([tiller, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", db_url],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("tiller did not come up")


def signed_post(port, tenant, path, body, conn_cache):
    raw = json.dumps(body).encode()
    sig = hmac.new(tenant["sign_secret"].encode(), raw, hashlib.sha256).hexdigest()
    conn = conn_cache.get(threading.get_ident())
    if conn is None:
        conn = conn_cache[threading.get_ident()] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, raw, {"Content-Type": "application/json",
                                     "X-AIRudder-Sign-Key": tenant["sign_key"], "X-AIRudder-Sign": sig})
    res = conn.getresponse()
    data = res.read()
    if res.status != 200:
        raise RuntimeError(f"{path}: {res.status} {data[:200]!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--tiller", default="target/release/tiller")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=600, help="seconds to wait for delivery")
    args = ap.parse_args()

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    work = tempfile.mkdtemp(prefix="tiller-fault-")
    db_path = os.path.join(work, "tiller.db")
    db_url = f"sqlite://{db_path}"
    env = dict(os.environ, TILLER_OUTBOUND__ALLOWED_NETWORKS="127.0.0.1/32",
               TILLER_WEBHOOKS__RETRY_SCHEDULE="1s,1s,1s,1s,1s", TILLER_LOG__FILTER="error",
               TILLER_WEBHOOKS__TIMEOUT_SECS="2",
               TILLER_FILES__DIR=os.path.join(work, "files"))
    tenant = run([args.tiller, "tenant", "create", "--name", "Fault", "--database-url", db_url], env)
    run([args.tiller, "webhook", "add", "--tenant", str(tenant["tenant_id"]), "--url", hook_url,
         "--database-url", db_url], env)

    port = free_port()
    server = serve(args.tiller, port, db_url, env, worker=False)
    sessions = max(1, args.events // 100)
    conns = {}
    for s in range(sessions):
        signed_post(port, tenant, "/api/v1/channel/chatbot/message",
                    {"call_id": f"fault-{s}", "channel": "chatbot", "channel_id": "fault",
                     "user": {"id": f"u{s}"}, "messages": [{"type": "text", "text": "hi"}]}, conns)
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: signed_post(port, tenant, "/api/v1/session/message/send",
                                            {"call_id": f"fault-{i % sessions}", "sender_type": "agent",
                                             "messages": [{"type": "text", "text": f"event {i}"}]}, conns),
                      range(args.events)))
    print(f"enqueued {args.events} events in {time.time() - started:.1f} s", flush=True)
    server.terminate()
    server.wait()

    expected = {row[0] for row in sqlite3.connect(db_path).execute("SELECT event_id FROM webhook_events")}
    assert len(expected) == args.events, f"{len(expected)} events stored, {args.events} sent"

    kills = []
    for k in range(args.kills):
        server = serve(args.tiller, port, db_url, env, worker=True)
        # Let it deliver a share, then kill it mid-flight.
        target = len(expected) * (k + 1) // (args.kills + 2)
        deadline = time.time() + 60
        while receiver.unique() < target and time.time() < deadline:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        kills.append(receiver.unique())
        print(f"SIGKILL {k + 1}: {receiver.unique()} of {len(expected)} events delivered so far", flush=True)

    server = serve(args.tiller, port, db_url, env, worker=True)
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        with receiver.lock:
            missing = expected - set(receiver.ids)
        if not missing:
            break
        time.sleep(0.1)
    server.terminate()
    server.wait()

    with receiver.lock:
        seen = dict(receiver.ids)
    lost = expected - set(seen)
    duplicates = sum(n - 1 for n in seen.values())
    mid_flight = sum(1 for k in kills if 0 < k < len(expected))
    print(json.dumps({"events": len(expected), "delivered": len(set(seen) & expected), "lost": len(lost),
                      "duplicates": duplicates, "kills": len(kills), "kills_mid_delivery": mid_flight}))
    if lost:
        sys.exit(f"LOST {len(lost)} events, e.g. {sorted(lost)[:5]}")
    if mid_flight < len(kills):
        sys.exit("a kill did not land mid-delivery; the test proved nothing for it")


if __name__ == "__main__":
    main()
