#!/usr/bin/env python3
"""Records the QMP transcripts in this directory from a real QEMU (see README.md).

Run from this directory: python3 record-transcripts.py
Each scenario starts its own paused QEMU (-S, TCG, no devices), talks QMP to it and kills it.
"""
import json, os, socket, subprocess, sys, tempfile, time

SETTLE = 0.5  # seconds to keep listening after a response, to catch the events that follow it


class Session:
    def __init__(self, out):
        self.out = out
        self.dir = tempfile.mkdtemp(prefix="qmp-record-")
        self.sock_path = os.path.join(self.dir, "qmp.sock")
        self.qemu = subprocess.Popen([
            "qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-m", "64",
            "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-qmp", f"unix:{self.sock_path},server=on,wait=off"])
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(self.sock_path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        self.buf = b""
        self.eof = False
        self.receive_one(timeout=5)  # the greeting

    def receive_one(self, timeout):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                self.eof = True
                self.out.append("! reset")
                return None
            if not chunk:
                self.eof = True
                self.out.append("! eof")
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode("ascii").rstrip("\r")
        self.out.append("< " + text)
        return json.loads(text)

    def send(self, message, until_eof=False):
        self.out.append("> " + json.dumps(message, separators=(",", ":")))
        # No newline after the command: QEMU reads its QMP input a byte at a time and stops reading
        # while a command runs, so a trailing newline is still unread when quit exits QEMU, and
        # Linux then resets the connection instead of ending it cleanly.
        self.sock.sendall(json.dumps(message).encode())
        answered = False
        while not self.eof:
            msg = self.receive_one(timeout=SETTLE if answered else 5)
            if msg is None and (answered and not until_eof):
                break
            if msg is not None and msg.get("id") == message.get("id"):
                answered = True

    def comment(self, text):
        self.out.append("# " + text)

    def kill(self):
        self.qemu.kill()
        self.qemu.wait()

    def close(self):
        self.sock.close()
        self.kill()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def handshake(s):
    s.send({"execute": "qmp_capabilities", "id": 1})
    s.send({"execute": "query-version", "id": 2})
    s.send({"execute": "query-status", "id": 3})


def lifecycle(s):
    s.send({"execute": "qmp_capabilities", "id": 1})
    s.send({"execute": "query-status", "id": 2})
    s.comment("stop in prelaunch succeeds but emits no STOP event and leaves the status at prelaunch")
    s.send({"execute": "stop", "id": 3})
    s.send({"execute": "query-status", "id": 4})
    s.comment("RESUME is sent before cont's own response")
    s.send({"execute": "cont", "id": 5})
    s.send({"execute": "query-status", "id": 6})
    s.comment("STOP is sent before stop's own response")
    s.send({"execute": "stop", "id": 7})
    s.send({"execute": "query-status", "id": 8})
    s.send({"execute": "cont", "id": 9})
    s.comment("SHUTDOWN arrives before quit's own response, then QEMU closes the socket")
    s.send({"execute": "quit", "id": 10}, until_eof=True)


def errors(s):
    s.send({"execute": "qmp_capabilities", "id": 1})
    s.send({"execute": "no-such-command", "id": 2})
    s.send({"execute": "device_del", "arguments": {"id": "missing-nic"}, "id": 3})
    s.send({"execute": "device_del", "arguments": {}, "id": 4})
    s.send({"execute": "query-status", "arguments": {"bogus": 1}, "id": 5})
    s.comment("still usable after errors")
    s.send({"execute": "query-status", "id": 6})
    s.send({"execute": "qmp_capabilities", "id": 7})


def before_negotiation(s):
    s.comment("commands before qmp_capabilities are refused")
    s.send({"execute": "query-status", "id": 1})
    s.send({"execute": "qmp_capabilities", "id": 2})


def worker_died(s):
    s.send({"execute": "qmp_capabilities", "id": 1})
    s.send({"execute": "query-status", "id": 2})
    s.comment("the QEMU process is killed with SIGKILL here")
    s.kill()
    s.receive_one(timeout=5)


SCENARIOS = {"handshake": handshake, "lifecycle": lifecycle, "errors": errors,
             "before-negotiation": before_negotiation, "worker-died": worker_died}

if __name__ == "__main__":
    version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    for name, scenario in SCENARIOS.items():
        out = [f"# Recorded from {version} by record-transcripts.py ({name})"]
        session = Session(out)
        try:
            scenario(session)
        finally:
            session.close()
        with open(f"{name}.qmp", "w") as f:
            f.write("\n".join(out) + "\n")
        print(f"{name}.qmp: {len(out)} lines")
